package io.rats.jni;

/**
 * The native methods of rats' JNI library ({@code librats_jni.so}): librats' C API, one
 * static method per C function, on a client handle ({@code long}, 0 = none). Return values
 * are the C API's: error codes ({@code 0} success, negative errors), counts, {@code null} for
 * a missing string. Every method is safe with a stale handle or null arguments (an error
 * code, never a crash) and may be called from any thread. Applications use
 * {@code io.rats.Client} or {@code com.librats.RatsClient} instead.
 */
public final class NativeRats {
    private NativeRats() {}

    static {
        NativeLoader.load();
    }

    /** Makes sure the native library is loaded (throws {@link UnsatisfiedLinkError} if not). */
    public static void ensureLoaded() {
        // The static initializer did the work.
    }

    public static native String getVersionString();
    public static native int[] getVersion();
    public static native String getGitDescribe();
    public static native int getAbi();
    public static native void setLoggingEnabled(boolean enabled);
    public static native void setLogLevel(String level);

    public static native long create(int listenPort);
    public static native void destroy(long handle);
    public static native int start(long handle);
    public static native void stop(long handle);
    public static native int setConfigJson(long handle, String json);
    public static native int setProtocolName(long handle, String name);
    public static native int setProtocolVersion(long handle, String version);
    public static native int setMaxPeers(long handle, int maxPeers);
    public static native int getMaxPeers(long handle);

    public static native int connect(long handle, String host, int port);
    public static native int connectWithStrategy(long handle, String host, int port, int strategy);
    public static native int getListenPort(long handle);
    public static native int disconnect(long handle, String peerId);
    public static native int getPeerCount(long handle);
    public static native String getOurPeerId(long handle);
    public static native String[] getPeerIds(long handle);
    public static native String getPeerInfoJson(long handle, String peerId);
    public static native String getConnectionStatisticsJson(long handle);

    public static native int sendString(long handle, String peerId, String message);
    public static native int broadcastString(long handle, String message);
    public static native int sendBinary(long handle, String peerId, byte[] data);
    public static native int broadcastBinary(long handle, byte[] data);
    public static native int sendJson(long handle, String peerId, String json);
    public static native int broadcastJson(long handle, String json);
    public static native int sendMessage(long handle, String peerId, String type, String json);
    public static native int broadcastMessage(long handle, String type, String json);
    /** Routes typed messages of {@code type} to the listener's {@code onMessage}. */
    public static native int onMessage(long handle, String type);

    public static native int setEncryptionEnabled(long handle, boolean enabled);
    public static native boolean isEncryptionEnabled(long handle);
    public static native String generateEncryptionKey(long handle);
    public static native int setEncryptionKey(long handle, String keyHex);
    public static native String getEncryptionKey(long handle);

    public static native int startDhtDiscovery(long handle, int dhtPort);
    public static native void stopDhtDiscovery(long handle);
    public static native boolean isDhtRunning(long handle);
    public static native int startMdnsDiscovery(long handle, String serviceName);
    public static native void stopMdnsDiscovery(long handle);
    public static native boolean isMdnsRunning(long handle);

    public static native String sendFile(long handle, String peerId, String path, String remoteName);
    public static native String sendDirectory(long handle, String peerId, String path, String remoteName, boolean recursive);
    public static native String requestFile(long handle, String peerId, String remotePath, String localPath);
    public static native int acceptFileTransfer(long handle, String transferId, String localPath);
    public static native int rejectFileTransfer(long handle, String transferId, String reason);
    public static native int acceptDirectoryTransfer(long handle, String transferId, String localPath);
    public static native int rejectDirectoryTransfer(long handle, String transferId, String reason);
    public static native int cancelFileTransfer(long handle, String transferId);
    public static native int pauseFileTransfer(long handle, String transferId);
    public static native int resumeFileTransfer(long handle, String transferId);
    public static native String getFileTransferProgressJson(long handle, String transferId);

    public static native int subscribeToTopic(long handle, String topic);
    public static native int unsubscribeFromTopic(long handle, String topic);
    public static native int publishToTopic(long handle, String topic, String message);
    public static native int publishJsonToTopic(long handle, String topic, String json);
    public static native String[] getTopicPeers(long handle, String topic);
    /** Routes {@code topic}'s messages to the listener's {@code onTopicMessage}. */
    public static native void listenTopic(long handle, String topic);

    /** Sets the client's listener (null: none); replaces the previous one. */
    public static native void setListener(long handle, NativeListener listener);

    // ---------------------------------------------------------------------------------------
    // Added by the Java side (io.rats / com.librats), not in the first version of the
    // contract: the rest of librats' C API that librats' Java API reaches, one static method
    // per C function in the same style (C names without "rats_", camelCase; void C functions
    // are void, C ints that are flags are boolean). Until librats_jni exports them, calling
    // one throws UnsatisfiedLinkError; io.rats turns that into UnsupportedOperationException
    // and com.librats into the C API's failure value plus a logged warning.

    public static native boolean isPeerLimitReached(long handle);
    public static native String getProtocolName(long handle);
    public static native String getProtocolVersion(long handle);
    public static native String[] getValidatedPeerIds(long handle);
    public static native boolean isPeerEncrypted(long handle, String peerId);

    public static native void setLogFilePath(long handle, String filePath);
    public static native String getLogFilePath(long handle);
    public static native void setLogColorsEnabled(long handle, boolean enabled);
    public static native boolean isLogColorsEnabled(long handle);
    public static native void setLogTimestampsEnabled(long handle, boolean enabled);
    public static native boolean isLogTimestampsEnabled(long handle);
    public static native void setLogRotationSize(long handle, long maxSizeBytes);
    public static native void setLogRetentionCount(long handle, int count);
    public static native void clearLogFile(long handle);

    public static native int announceForHash(long handle, String contentHash, int port);
    public static native long getDhtRoutingTableSize(long handle);
    public static native String[] findPeersForHash(long handle, String contentHash);
    public static native void startAutomaticPeerDiscovery(long handle);
    public static native void stopAutomaticPeerDiscovery(long handle);
    public static native boolean isAutomaticDiscoveryRunning(long handle);
    public static native String getDiscoveryHash(long handle);
    public static native String getRatsPeerDiscoveryHash();
    public static native int queryMdnsServices(long handle);

    public static native String requestDirectory(long handle, String peerId, String remotePath, String localPath, boolean recursive);
    public static native String getFileTransferStatisticsJson(long handle);

    public static native boolean isGossipsubAvailable(long handle);
    public static native boolean isGossipsubRunning(long handle);
    public static native boolean isSubscribedToTopic(long handle, String topic);
    public static native String[] getSubscribedTopics(long handle);
    public static native String[] getTopicMeshPeers(long handle, String topic);
    public static native String getGossipsubStatisticsJson(long handle);

    public static native int discoverAndIgnorePublicIp(long handle, String stunServer, int stunPort);
    public static native String getPublicIp(long handle);
    public static native int detectNatType(long handle);
    public static native String getNatCharacteristicsJson(long handle);
    public static native void addIgnoredAddress(long handle, String ipAddress);
    public static native String getNatTraversalStatisticsJson(long handle);

    public static native String createIceOffer(long handle, String peerId);
    public static native int connectWithIce(long handle, String peerId, String iceOfferJson);
    public static native int handleIceAnswer(long handle, String peerId, String iceAnswerJson);

    public static native int loadConfiguration(long handle);
    public static native int saveConfiguration(long handle);
    public static native int setDataDirectory(long handle, String directoryPath);
    public static native String getDataDirectory(long handle);
    public static native int loadAndReconnectPeers(long handle);
    public static native boolean loadHistoricalPeers(long handle);
    public static native boolean saveHistoricalPeers(long handle);
    public static native void clearHistoricalPeers(long handle);
    public static native String[] getHistoricalPeerIds(long handle);
}
