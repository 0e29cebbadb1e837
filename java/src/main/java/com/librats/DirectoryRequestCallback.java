package com.librats;

/**
 * Callback interface for incoming directory offers (librats' Java API).
 */
public interface DirectoryRequestCallback {
    /**
     * Called when a peer offers a directory to this client. Respond with
     * {@link RatsClient#acceptDirectoryTransfer} or {@link RatsClient#rejectDirectoryTransfer}
     * (or the file forms, which this binding routes to them).
     *
     * @param peerId the peer making the offer
     * @param transferId the transfer's id, for the answer
     * @param remotePath the path the peer gave (may be empty)
     * @param directoryName the proposed directory name
     */
    void onDirectoryRequest(String peerId, String transferId, String remotePath, String directoryName);
}
