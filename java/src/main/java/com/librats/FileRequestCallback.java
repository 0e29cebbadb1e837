package com.librats;

/**
 * Callback interface for incoming transfer offers (librats' Java API).
 */
public interface FileRequestCallback {
    /**
     * Called when a peer offers a file (or, without a {@link DirectoryRequestCallback}, a
     * directory) to this client. Respond by calling {@link RatsClient#acceptFileTransfer} or
     * {@link RatsClient#rejectFileTransfer} with the given transfer ID, here or later.
     *
     * @param peerId the peer making the offer
     * @param transferId the transfer's id, for the answer
     * @param remotePath the path the peer gave (may be empty)
     * @param filename the proposed file or directory name
     */
    void onFileRequest(String peerId, String transferId, String remotePath, String filename);
}
