package com.librats;

/**
 * Callback interface for peer connection events (librats' Java API; see {@link RatsClient#setConnectionCallback}).
 */
public interface ConnectionCallback {
    /**
     * A peer finished its handshake with us (runs on the client's callback thread).
     *
     * @param peerId the peer's id (64 hex characters)
     */
    void onConnection(String peerId);
}
