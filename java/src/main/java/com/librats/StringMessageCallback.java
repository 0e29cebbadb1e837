package com.librats;

/**
 * Callback interface for string message events (librats' Java API).
 */
public interface StringMessageCallback {
    /**
     * A text message arrived.
     *
     * @param peerId the sender
     * @param message the text
     */
    void onStringMessage(String peerId, String message);
}
