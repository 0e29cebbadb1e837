package com.librats;

/**
 * Callback interface for binary message events (librats' Java API).
 */
public interface BinaryMessageCallback {
    /**
     * A binary message arrived.
     *
     * @param peerId the sender
     * @param data the bytes (a fresh array the callback may keep)
     */
    void onBinaryMessage(String peerId, byte[] data);
}
