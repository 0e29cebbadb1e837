package com.librats;

/**
 * Callback interface for peer disconnection events (librats' Java API).
 */
public interface DisconnectCallback {
    /**
     * A peer's connection closed.
     *
     * @param peerId the peer's id
     */
    void onDisconnect(String peerId);
}
