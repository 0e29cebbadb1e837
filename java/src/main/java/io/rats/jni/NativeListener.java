package io.rats.jni;

/**
 * What the native library calls back, on the client's callback thread ("rats-cb", one per
 * client; attached to the JVM as a daemon thread). One listener per client, set with
 * {@link NativeRats#setListener}; the public APIs ({@code io.rats.Client},
 * {@code com.librats.RatsClient}) implement it and dispatch to the application's listeners.
 * An exception thrown here is caught by the native side, printed, and dropped.
 */
public interface NativeListener {
    /** A peer connected (its id: 64 hex characters). */
    void onConnected(String peerId);

    /** A peer disconnected. */
    void onDisconnected(String peerId);

    /** A text message. */
    void onString(String peerId, String message);

    /** A binary message (a fresh array the listener may keep). */
    void onBinary(String peerId, byte[] data);

    /** A JSON message sent with {@code sendJson} / {@code broadcastJson}. */
    void onJson(String peerId, String json);

    /** A typed message of a type registered with {@link NativeRats#onMessage}. */
    void onMessage(String type, String peerId, String json);

    /** A publish/subscribe message on a topic registered with {@link NativeRats#listenTopic}. */
    void onTopicMessage(String peerId, String topic, String message);

    /** A peer offers a file or a directory: answer with accept/reject (file or directory). */
    void onFileRequest(String peerId, String transferId, String remotePath, String name, boolean directory);

    /** Transfer progress: percent (0..100) and librats' status name (IN_PROGRESS, COMPLETED, ...). */
    void onFileProgress(String transferId, int percent, String status);

    /** A discovery mechanism found a peer at host:port ({@code source}: "dht", "mdns", ...). */
    void onPeerDiscovered(String host, int port, String source);
}
