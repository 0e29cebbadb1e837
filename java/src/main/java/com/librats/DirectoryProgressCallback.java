package com.librats;

/**
 * Callback interface for directory transfer progress events (librats' Java API).
 */
public interface DirectoryProgressCallback {
    /**
     * A directory transfer moved on.
     *
     * @param transferId the transfer
     * @param filesCompleted files done so far
     * @param totalFiles files in the tree
     * @param currentFile the file just completed (this binding passes "": see
     *                    {@link RatsClient#setDirectoryProgressCallback})
     */
    void onDirectoryProgress(String transferId, int filesCompleted, int totalFiles, String currentFile);
}
