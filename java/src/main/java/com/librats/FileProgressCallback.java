package com.librats;

/**
 * Callback interface for file and directory transfer progress events (librats' Java API).
 */
public interface FileProgressCallback {
    /**
     * A transfer moved on.
     *
     * @param transferId the transfer
     * @param progressPercent 0..100
     * @param status librats' status name: "STARTING", "IN_PROGRESS", "PAUSED", "RESUMING",
     *               "COMPLETED", "FAILED" or "CANCELLED"
     */
    void onFileProgress(String transferId, int progressPercent, String status);
}
