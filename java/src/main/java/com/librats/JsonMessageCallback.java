package com.librats;

/**
 * Callback interface for JSON message events (librats' Java API; also used by the rats extension {@link RatsClient#onMessage} for typed messages).
 */
public interface JsonMessageCallback {
    /**
     * A JSON message arrived.
     *
     * @param peerId the sender
     * @param jsonStr the JSON text
     */
    void onJsonMessage(String peerId, String jsonStr);
}
