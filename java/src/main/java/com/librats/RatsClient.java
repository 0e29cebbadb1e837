package com.librats;

import io.rats.Json;
import io.rats.jni.NativeListener;
import io.rats.jni.NativeRats;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * librats' Java API ({@code com.librats.RatsClient}) on rats: the same class, method names,
 * parameter types, return values and constants, so code written for librats compiles
 * unchanged and gets rats' engine. Like librats' class, it is a thin layer over the C API:
 * each method calls the matching C function (through {@link NativeRats}) and returns what it
 * returns ({@link #SUCCESS} or a negative {@code ERROR_*} code, counts, null for a missing
 * string); nothing here throws for a failed operation.
 *
 * <p>What differs from librats (see java/README.md for the whole list):
 * <ul>
 * <li>Callbacks run on the client's callback thread ({@code rats-cb}), one at a time; a
 *     callback may call any method, also {@link #stop()} and {@link #destroy()}. An exception
 *     thrown by a callback is logged ({@link System.Logger} {@code com.librats}) and dropped.</li>
 * <li>Offers that arrive while no request callback is set are refused (the C API's rule).
 *     With a {@link FileRequestCallback} and no {@link DirectoryRequestCallback}, directory
 *     offers go to the file callback, and {@link #acceptFileTransfer} /
 *     {@link #rejectFileTransfer} answer them (librats' later API did the same).</li>
 * <li>{@link #setTopicJsonMessageCallback} gets the topic's messages whose payload is JSON
 *     (compact), also while a plain topic callback is set; {@link #setDirectoryProgressCallback}
 *     is fed from the progress reports ({@code currentFile} is ""). {@link
 *     #setTopicPeerJoinedCallback} and {@link #setTopicPeerLeftCallback} are kept but not
 *     called: the JNI library does not report those events yet.</li>
 * <li>Methods whose C function the JNI library does not export (NAT, ICE, logging to a file,
 *     configuration persistence, ...) return the C API's failure value
 *     ({@link #ERROR_OPERATION_FAILED}, null, false, 0) and log a warning once.</li>
 * <li>rats extensions, from the C API: {@link #setConfigJson}, {@link #onMessage},
 *     {@link #sendMessage}, {@link #broadcastMessage}, {@link #getPeerInfoJson},
 *     {@link #setProtocolName}, {@link #setMaxPeers}, {@link #disconnectPeerById},
 *     {@link #cancelFileTransfer}, {@link #getEncryptionKey}, {@link #setPeerDiscoveredCallback}
 *     (from librats' README), ...</li>
 * </ul>
 */
public class RatsClient {

    static {
        NativeRats.ensureLoaded();
    }

    // Connection strategies
    public static final int STRATEGY_DIRECT_ONLY = 0;
    public static final int STRATEGY_STUN_ASSISTED = 1;
    public static final int STRATEGY_ICE_FULL = 2;
    public static final int STRATEGY_TURN_RELAY = 3;
    public static final int STRATEGY_AUTO_ADAPTIVE = 4;

    // Error codes
    public static final int SUCCESS = 0;
    public static final int ERROR_INVALID_HANDLE = -1;
    public static final int ERROR_INVALID_PARAMETER = -2;
    public static final int ERROR_NOT_RUNNING = -3;
    public static final int ERROR_OPERATION_FAILED = -4;
    public static final int ERROR_PEER_NOT_FOUND = -5;
    public static final int ERROR_MEMORY_ALLOCATION = -6;
    public static final int ERROR_JSON_PARSE = -7;

    // ICE connection and gathering states of librats' ICE manager API. Kept so code naming
    // them compiles; rats has no ICE manager API (its ICE is createIceOffer/connectWithIce).
    public static final int ICE_STATE_NEW = 0;
    public static final int ICE_STATE_GATHERING = 1;
    public static final int ICE_STATE_CHECKING = 2;
    public static final int ICE_STATE_CONNECTED = 3;
    public static final int ICE_STATE_COMPLETED = 4;
    public static final int ICE_STATE_FAILED = 5;
    public static final int ICE_STATE_DISCONNECTED = 6;
    public static final int ICE_STATE_CLOSED = 7;
    public static final int ICE_GATHERING_NEW = 0;
    public static final int ICE_GATHERING_GATHERING = 1;
    public static final int ICE_GATHERING_COMPLETE = 2;

    private static final Set<String> WARNED = ConcurrentHashMap.newKeySet();
    private static volatile boolean consoleLogging = true;

    /** The client's callbacks and handle; the native side holds this, not the RatsClient. */
    private final Callbacks callbacks;
    private volatile long nativeClientPtr;

    /**
     * Creates a client that will listen on {@code listenPort} (0: any free port) once
     * started. Settings ({@link #setEncryptionEnabled}, {@link #setConfigJson}, ...) go
     * before {@link #start()}.
     *
     * @throws RuntimeException if the native client cannot be created (a port outside 0..65535)
     */
    public RatsClient(int listenPort) {
        long h = NativeRats.create(listenPort);
        if (h == 0) {
            throw new RuntimeException("Failed to create native RatsClient");
        }
        nativeClientPtr = h;
        callbacks = new Callbacks(h);
        NativeRats.setListener(h, callbacks);
    }

    /** Starts the client. @return SUCCESS, or an error code (the port in use: ERROR_OPERATION_FAILED) */
    public int start() {
        return NativeRats.start(nativeClientPtr);
    }

    /** Stops the client and closes all connections; it can be started again. */
    public void stop() {
        long h = nativeClientPtr;
        if (h != 0) {
            NativeRats.stop(h);
        }
    }

    /** Destroys the client; later calls return ERROR_INVALID_HANDLE (or 0, null, false). */
    public void destroy() {
        long h = nativeClientPtr;
        if (h != 0) {
            nativeClientPtr = 0;
            callbacks.handle = 0;
            NativeRats.destroy(h);
        }
    }

    /** As librats: a client collected without {@link #destroy()} is destroyed. */
    @Override
    @SuppressWarnings({"deprecation", "removal"})
    protected void finalize() throws Throwable {
        destroy();
        super.finalize();
    }

    // ===================== connections and peers =====================

    /** Connects to a peer and waits for the handshake. @return 1 on success, 0 on failure */
    public int connect(String host, int port) {
        return NativeRats.connect(nativeClientPtr, host, port);
    }

    /**
     * Connects with a strategy ({@code STRATEGY_*}): DIRECT_ONLY dials once; the others use
     * rats' configured connect strategy. @return SUCCESS or an error code
     */
    public int connectWithStrategy(String host, int port, int strategy) {
        return NativeRats.connectWithStrategy(nativeClientPtr, host, port, strategy);
    }

    /** rats extension (C: rats_disconnect_peer_by_id). @return SUCCESS or an error code */
    public int disconnectPeerById(String peerId) {
        return NativeRats.disconnect(nativeClientPtr, peerId);
    }

    public int getPeerCount() {
        return NativeRats.getPeerCount(nativeClientPtr);
    }

    public int getListenPort() {
        return NativeRats.getListenPort(nativeClientPtr);
    }

    /** Our peer id: 64 hex characters (rats' ids are Ed25519 keys). */
    public String getOurPeerId() {
        return NativeRats.getOurPeerId(nativeClientPtr);
    }

    public String getConnectionStatisticsJson() {
        return NativeRats.getConnectionStatisticsJson(nativeClientPtr);
    }

    /** The connected peers' ids (an empty array when none). */
    public String[] getPeerIds() {
        return NativeRats.getPeerIds(nativeClientPtr);
    }

    /** The same as {@link #getPeerIds()} in rats: every peer is authenticated before it counts. */
    public String[] getValidatedPeerIds() {
        return NativeRats.getPeerIds(nativeClientPtr);
    }

    /** rats extension (C: rats_get_peer_info_json): a connected peer as JSON, null if unknown. */
    public String getPeerInfoJson(String peerId) {
        return NativeRats.getPeerInfoJson(nativeClientPtr, peerId);
    }

    /** rats extension: the most peers; before {@link #start()}. @return SUCCESS or an error code */
    public int setMaxPeers(int maxPeers) {
        return NativeRats.setMaxPeers(nativeClientPtr, maxPeers);
    }

    /** rats extension. */
    public int getMaxPeers() {
        return NativeRats.getMaxPeers(nativeClientPtr);
    }

    /** rats extension. */
    public boolean isPeerLimitReached() {
        try {
            return NativeRats.isPeerLimitReached(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return getMaxPeers() > 0 && getPeerCount() >= getMaxPeers();
        }
    }

    /**
     * rats extension (C: rats_set_config_json): rats configuration keys as a JSON object,
     * before {@link #start()}; e.g. {@code {"disabled_plugins": ["dht", "mdns", "stun",
     * "portmap", "holepunch"]}} keeps the client on the addresses it is told to connect to.
     */
    public int setConfigJson(String json) {
        return NativeRats.setConfigJson(nativeClientPtr, json);
    }

    /** rats extension: the application protocol name, before {@link #start()}. */
    public int setProtocolName(String protocolName) {
        int r = NativeRats.setProtocolName(nativeClientPtr, protocolName);
        if (r == SUCCESS) {
            callbacks.protocolName = protocolName;
        }
        return r;
    }

    /** rats extension: the application protocol version, before {@link #start()}. */
    public int setProtocolVersion(String protocolVersion) {
        int r = NativeRats.setProtocolVersion(nativeClientPtr, protocolVersion);
        if (r == SUCCESS) {
            callbacks.protocolVersion = protocolVersion;
        }
        return r;
    }

    /** rats extension. */
    public String getProtocolName() {
        try {
            return NativeRats.getProtocolName(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return nativeClientPtr == 0 ? null : callbacks.protocolName;
        }
    }

    /** rats extension. */
    public String getProtocolVersion() {
        try {
            return NativeRats.getProtocolVersion(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return nativeClientPtr == 0 ? null : callbacks.protocolVersion;
        }
    }

    // ===================== messages =====================

    public int sendString(String peerId, String message) {
        return NativeRats.sendString(nativeClientPtr, peerId, message);
    }

    /** @return the number of peers reached */
    public int broadcastString(String message) {
        return NativeRats.broadcastString(nativeClientPtr, message);
    }

    public int sendBinary(String peerId, byte[] data) {
        return NativeRats.sendBinary(nativeClientPtr, peerId, data);
    }

    /** @return the number of peers reached */
    public int broadcastBinary(byte[] data) {
        return NativeRats.broadcastBinary(nativeClientPtr, data);
    }

    public int sendJson(String peerId, String jsonStr) {
        return NativeRats.sendJson(nativeClientPtr, peerId, jsonStr);
    }

    /** @return the number of peers reached */
    public int broadcastJson(String jsonStr) {
        return NativeRats.broadcastJson(nativeClientPtr, jsonStr);
    }

    /**
     * rats extension (C: rats_on_message): {@code callback} gets the typed messages of
     * {@code messageType} (null stops delivering them). @return SUCCESS or an error code
     */
    public int onMessage(String messageType, JsonMessageCallback callback) {
        if (messageType == null) {
            return ERROR_INVALID_PARAMETER;
        }
        if (callback == null) {
            callbacks.typed.remove(messageType);
            return SUCCESS;
        }
        callbacks.typed.put(messageType, callback);
        if (callbacks.typesRegistered.add(messageType)) {
            int r = NativeRats.onMessage(nativeClientPtr, messageType);
            if (r != SUCCESS) {
                callbacks.typesRegistered.remove(messageType);
                callbacks.typed.remove(messageType, callback);
            }
            return r;
        }
        return SUCCESS;
    }

    /** rats extension (C: rats_send_message): a typed JSON message. */
    public int sendMessage(String peerId, String messageType, String data) {
        return NativeRats.sendMessage(nativeClientPtr, peerId, messageType, data);
    }

    /** rats extension (C: rats_broadcast_message). */
    public int broadcastMessage(String messageType, String data) {
        return NativeRats.broadcastMessage(nativeClientPtr, messageType, data);
    }

    // ===================== encryption =====================

    /** Before {@link #start()} (rats fixes it at start). */
    public int setEncryptionEnabled(boolean enabled) {
        return NativeRats.setEncryptionEnabled(nativeClientPtr, enabled);
    }

    public boolean isEncryptionEnabled() {
        return NativeRats.isEncryptionEnabled(nativeClientPtr);
    }

    /**
     * A new static key for this client (before {@link #start()}; null while running): the
     * secret key of a new Ed25519 identity, so the peer id changes.
     */
    public String generateEncryptionKey() {
        return NativeRats.generateEncryptionKey(nativeClientPtr);
    }

    /** The static key (64 hex characters), before {@link #start()}; the peer id follows from it. */
    public int setEncryptionKey(String key) {
        return NativeRats.setEncryptionKey(nativeClientPtr, key);
    }

    /** rats extension (C: rats_get_encryption_key). Keep it secret. */
    public String getEncryptionKey() {
        return NativeRats.getEncryptionKey(nativeClientPtr);
    }

    /** librats' later API: the same as {@link #setEncryptionEnabled(boolean)} in rats. */
    public int initializeEncryption(boolean enable) {
        return setEncryptionEnabled(enable);
    }

    /** Whether a connected peer's connection is encrypted (false for an unknown peer). */
    public boolean isPeerEncrypted(String peerId) {
        try {
            return NativeRats.isPeerEncrypted(nativeClientPtr, peerId);
        } catch (UnsatisfiedLinkError e) {
            String info = NativeRats.getPeerInfoJson(nativeClientPtr, peerId);
            if (info == null) {
                return false;
            }
            return Boolean.TRUE.equals(Json.parseObject(info).get("encryption_enabled"));
        }
    }

    // ===================== DHT, automatic discovery, mDNS =====================

    /** Starts the DHT on UDP {@code dhtPort} (0: any). It bootstraps from rats' {@code dht.bootstrap} setting. */
    public int startDhtDiscovery(int dhtPort) {
        return NativeRats.startDhtDiscovery(nativeClientPtr, dhtPort);
    }

    public void stopDhtDiscovery() {
        NativeRats.stopDhtDiscovery(nativeClientPtr);
    }

    public boolean isDhtRunning() {
        return NativeRats.isDhtRunning(nativeClientPtr);
    }

    /** rats extension (C: rats_announce_for_hash). */
    public int announceForHash(String contentHash, int port) {
        try {
            return NativeRats.announceForHash(nativeClientPtr, contentHash, port);
        } catch (UnsatisfiedLinkError e) {
            return missing("announceForHash", ERROR_OPERATION_FAILED);
        }
    }

    /** rats extension (C: rats_get_dht_routing_table_size). */
    public long getDhtRoutingTableSize() {
        try {
            return NativeRats.getDhtRoutingTableSize(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getDhtRoutingTableSize", 0L);
        }
    }

    /** rats extension (C: rats_find_peers_for_hash): "ip:port" strings; null when none. */
    public String[] findPeersForHash(String contentHash) {
        try {
            return NativeRats.findPeersForHash(nativeClientPtr, contentHash);
        } catch (UnsatisfiedLinkError e) {
            return missing("findPeersForHash", (String[]) null);
        }
    }

    public void startAutomaticPeerDiscovery() {
        try {
            NativeRats.startAutomaticPeerDiscovery(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            missing("startAutomaticPeerDiscovery", null);
        }
    }

    public void stopAutomaticPeerDiscovery() {
        try {
            NativeRats.stopAutomaticPeerDiscovery(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            missing("stopAutomaticPeerDiscovery", null);
        }
    }

    public boolean isAutomaticDiscoveryRunning() {
        try {
            return NativeRats.isAutomaticDiscoveryRunning(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("isAutomaticDiscoveryRunning", false);
        }
    }

    /** SHA-1(protocol name + "_peer_discovery_v" + protocol version) in hex, as librats. */
    public String getDiscoveryHash() {
        try {
            return NativeRats.getDiscoveryHash(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return nativeClientPtr == 0 ? null : discoveryHash(callbacks.protocolName, callbacks.protocolVersion);
        }
    }

    /** The discovery hash of rats' default protocol ("rats", "1.0"). */
    public static String getRatsPeerDiscoveryHash() {
        try {
            return NativeRats.getRatsPeerDiscoveryHash();
        } catch (UnsatisfiedLinkError e) {
            return discoveryHash(Callbacks.DEFAULT_PROTOCOL, Callbacks.DEFAULT_VERSION);
        }
    }

    /**
     * Starts mDNS with {@code serviceName} as rats' instance name (null: rats' default).
     * rats does not run mDNS on a client that listens on loopback only.
     */
    public int startMdnsDiscovery(String serviceName) {
        return NativeRats.startMdnsDiscovery(nativeClientPtr, serviceName);
    }

    public void stopMdnsDiscovery() {
        NativeRats.stopMdnsDiscovery(nativeClientPtr);
    }

    public boolean isMdnsRunning() {
        return NativeRats.isMdnsRunning(nativeClientPtr);
    }

    /** rats extension (C: rats_query_mdns_services): answers come to the peer discovered callback. */
    public int queryMdnsServices() {
        try {
            return NativeRats.queryMdnsServices(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("queryMdnsServices", ERROR_OPERATION_FAILED);
        }
    }

    // ===================== GossipSub =====================

    public boolean isGossipsubAvailable() {
        try {
            return NativeRats.isGossipsubAvailable(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("isGossipsubAvailable", false);
        }
    }

    public boolean isGossipsubRunning() {
        try {
            return NativeRats.isGossipsubRunning(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            String stats = NativeRats.getConnectionStatisticsJson(nativeClientPtr);
            return stats != null && Boolean.TRUE.equals(Json.parseObject(stats).get("gossipsub_running"));
        }
    }

    /** Needs a started client (ERROR_NOT_RUNNING before); subscribing twice is SUCCESS. */
    public int subscribeToTopic(String topic) {
        int r = NativeRats.subscribeToTopic(nativeClientPtr, topic);
        if (r == SUCCESS) {
            callbacks.subscribed.add(topic);
            if (callbacks.listens(topic)) {
                NativeRats.listenTopic(nativeClientPtr, topic);
            }
        }
        return r;
    }

    public int unsubscribeFromTopic(String topic) {
        int r = NativeRats.unsubscribeFromTopic(nativeClientPtr, topic);
        if (r == SUCCESS && topic != null) {
            callbacks.subscribed.remove(topic);
        }
        return r;
    }

    public boolean isSubscribedToTopic(String topic) {
        try {
            return NativeRats.isSubscribedToTopic(nativeClientPtr, topic);
        } catch (UnsatisfiedLinkError e) {
            return topic != null && nativeClientPtr != 0 && callbacks.subscribed.contains(topic);
        }
    }

    /** Our topics, sorted (null when none, as the C API's empty list). */
    public String[] getSubscribedTopics() {
        try {
            return NativeRats.getSubscribedTopics(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            if (nativeClientPtr == 0 || callbacks.subscribed.isEmpty()) {
                return null;
            }
            return new TreeSet<>(callbacks.subscribed).toArray(new String[0]);
        }
    }

    public int publishToTopic(String topic, String message) {
        return NativeRats.publishToTopic(nativeClientPtr, topic, message);
    }

    /** @return SUCCESS, ERROR_JSON_PARSE for text that is not JSON, ... */
    public int publishJsonToTopic(String topic, String jsonStr) {
        return NativeRats.publishJsonToTopic(nativeClientPtr, topic, jsonStr);
    }

    /** The connected peers subscribed to {@code topic}. */
    public String[] getTopicPeers(String topic) {
        return NativeRats.getTopicPeers(nativeClientPtr, topic);
    }

    public String[] getTopicMeshPeers(String topic) {
        try {
            return NativeRats.getTopicMeshPeers(nativeClientPtr, topic);
        } catch (UnsatisfiedLinkError e) {
            return missing("getTopicMeshPeers", (String[]) null);
        }
    }

    public String getGossipsubStatisticsJson() {
        try {
            return NativeRats.getGossipsubStatisticsJson(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getGossipsubStatisticsJson", (String) null);
        }
    }

    // ===================== NAT traversal and STUN =====================

    /** Asks a STUN server for our public IP and ignores it as a dial target; waits. */
    public int discoverAndIgnorePublicIp(String stunServer, int stunPort) {
        try {
            return NativeRats.discoverAndIgnorePublicIp(nativeClientPtr, stunServer, stunPort);
        } catch (UnsatisfiedLinkError e) {
            return missing("discoverAndIgnorePublicIp", ERROR_OPERATION_FAILED);
        }
    }

    public String getPublicIp() {
        try {
            return NativeRats.getPublicIp(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getPublicIp", (String) null);
        }
    }

    public int detectNatType() {
        try {
            return NativeRats.detectNatType(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("detectNatType", 0);
        }
    }

    public String getNatCharacteristicsJson() {
        try {
            return NativeRats.getNatCharacteristicsJson(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getNatCharacteristicsJson", (String) null);
        }
    }

    public void addIgnoredAddress(String ipAddress) {
        try {
            NativeRats.addIgnoredAddress(nativeClientPtr, ipAddress);
        } catch (UnsatisfiedLinkError e) {
            missing("addIgnoredAddress", null);
        }
    }

    public String getNatTraversalStatisticsJson() {
        try {
            return NativeRats.getNatTraversalStatisticsJson(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getNatTraversalStatisticsJson", (String) null);
        }
    }

    // ===================== ICE (rats' offer/answer flow) =====================

    /** Our ICE offer (JSON) for a peer; both sides make one (see librats_c.h). */
    public String createIceOffer(String peerId) {
        try {
            return NativeRats.createIceOffer(nativeClientPtr, peerId);
        } catch (UnsatisfiedLinkError e) {
            return missing("createIceOffer", (String) null);
        }
    }

    public int connectWithIce(String peerId, String iceOfferJson) {
        try {
            return NativeRats.connectWithIce(nativeClientPtr, peerId, iceOfferJson);
        } catch (UnsatisfiedLinkError e) {
            return missing("connectWithIce", ERROR_OPERATION_FAILED);
        }
    }

    public int handleIceAnswer(String peerId, String iceAnswerJson) {
        try {
            return NativeRats.handleIceAnswer(nativeClientPtr, peerId, iceAnswerJson);
        } catch (UnsatisfiedLinkError e) {
            return missing("handleIceAnswer", ERROR_OPERATION_FAILED);
        }
    }

    // ===================== logging =====================

    /** Process-wide in rats, as librats' logger. */
    public void setLogFilePath(String filePath) {
        try {
            NativeRats.setLogFilePath(nativeClientPtr, filePath);
        } catch (UnsatisfiedLinkError e) {
            missing("setLogFilePath", null);
        }
    }

    public String getLogFilePath() {
        try {
            return NativeRats.getLogFilePath(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getLogFilePath", (String) null);
        }
    }

    public void setLogColorsEnabled(boolean enabled) {
        try {
            NativeRats.setLogColorsEnabled(nativeClientPtr, enabled);
        } catch (UnsatisfiedLinkError e) {
            missing("setLogColorsEnabled", null);
        }
    }

    public boolean isLogColorsEnabled() {
        try {
            return NativeRats.isLogColorsEnabled(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("isLogColorsEnabled", false);
        }
    }

    public void setLogTimestampsEnabled(boolean enabled) {
        try {
            NativeRats.setLogTimestampsEnabled(nativeClientPtr, enabled);
        } catch (UnsatisfiedLinkError e) {
            missing("setLogTimestampsEnabled", null);
        }
    }

    public boolean isLogTimestampsEnabled() {
        try {
            return NativeRats.isLogTimestampsEnabled(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("isLogTimestampsEnabled", false);
        }
    }

    public void setLogRotationSize(long maxSizeBytes) {
        try {
            NativeRats.setLogRotationSize(nativeClientPtr, maxSizeBytes);
        } catch (UnsatisfiedLinkError e) {
            missing("setLogRotationSize", null);
        }
    }

    public void setLogRetentionCount(int count) {
        try {
            NativeRats.setLogRetentionCount(nativeClientPtr, count);
        } catch (UnsatisfiedLinkError e) {
            missing("setLogRetentionCount", null);
        }
    }

    public void clearLogFile() {
        try {
            NativeRats.clearLogFile(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            missing("clearLogFile", null);
        }
    }

    // ===================== configuration persistence =====================

    public int loadConfiguration() {
        try {
            return NativeRats.loadConfiguration(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("loadConfiguration", ERROR_OPERATION_FAILED);
        }
    }

    public int saveConfiguration() {
        try {
            return NativeRats.saveConfiguration(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("saveConfiguration", ERROR_OPERATION_FAILED);
        }
    }

    /** Before {@link #start()}: the client takes the directory's identity (its peer id changes). */
    public int setDataDirectory(String directoryPath) {
        try {
            return NativeRats.setDataDirectory(nativeClientPtr, directoryPath);
        } catch (UnsatisfiedLinkError e) {
            return missing("setDataDirectory", ERROR_OPERATION_FAILED);
        }
    }

    /** "" when none. */
    public String getDataDirectory() {
        try {
            return NativeRats.getDataDirectory(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getDataDirectory", (String) null);
        }
    }

    public int loadAndReconnectPeers() {
        try {
            return NativeRats.loadAndReconnectPeers(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("loadAndReconnectPeers", 0);
        }
    }

    public boolean loadHistoricalPeers() {
        try {
            return NativeRats.loadHistoricalPeers(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("loadHistoricalPeers", false);
        }
    }

    public boolean saveHistoricalPeers() {
        try {
            return NativeRats.saveHistoricalPeers(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("saveHistoricalPeers", false);
        }
    }

    public void clearHistoricalPeers() {
        try {
            NativeRats.clearHistoricalPeers(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            missing("clearHistoricalPeers", null);
        }
    }

    public String[] getHistoricalPeerIds() {
        try {
            return NativeRats.getHistoricalPeerIds(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getHistoricalPeerIds", (String[]) null);
        }
    }

    // ===================== file transfer =====================

    /**
     * Offers a file to a peer. @return the transfer id (32 hex characters), or null if the
     * offer could not be sent; the outcome comes to the {@link FileProgressCallback}
     */
    public String sendFile(String peerId, String filePath, String remoteFilename) {
        return NativeRats.sendFile(nativeClientPtr, peerId, filePath, remoteFilename);
    }

    /** Offers a directory tree (recursively) to a peer (librats' later signature). */
    public String sendDirectory(String peerId, String directoryPath, String remoteDirectoryName) {
        return sendDirectory(peerId, directoryPath, remoteDirectoryName, true);
    }

    /** Offers a directory to a peer. @return the transfer id, or null */
    public String sendDirectory(String peerId, String directoryPath, String remoteDirectoryName, boolean recursive) {
        String id = NativeRats.sendDirectory(nativeClientPtr, peerId, directoryPath, remoteDirectoryName, recursive);
        if (id != null) {
            callbacks.directories.add(id);
        }
        return id;
    }

    /** Asks a peer for a file below its {@code transfer.shared_root}. @return the transfer id, or null */
    public String requestFile(String peerId, String remoteFilePath, String localPath) {
        return NativeRats.requestFile(nativeClientPtr, peerId, remoteFilePath, localPath);
    }

    /** Asks a peer for a directory below its {@code transfer.shared_root}. @return the transfer id, or null */
    public String requestDirectory(String peerId, String remoteDirectoryPath, String localDirectoryPath, boolean recursive) {
        String id;
        try {
            id = NativeRats.requestDirectory(nativeClientPtr, peerId, remoteDirectoryPath, localDirectoryPath, recursive);
        } catch (UnsatisfiedLinkError e) {
            return missing("requestDirectory", (String) null);
        }
        if (id != null) {
            callbacks.directories.add(id);
        }
        return id;
    }

    /**
     * Accepts an offer, saving it as {@code localPath} (a directory offer announced to the
     * {@link FileRequestCallback} is accepted as a directory tree rooted there).
     */
    public int acceptFileTransfer(String transferId, String localPath) {
        if (transferId != null && callbacks.directoryOffers.remove(transferId)) {
            return acceptDirectory(transferId, localPath);
        }
        return NativeRats.acceptFileTransfer(nativeClientPtr, transferId, localPath);
    }

    /** Refuses an offer (file or directory). */
    public int rejectFileTransfer(String transferId, String reason) {
        if (transferId != null && callbacks.directoryOffers.remove(transferId)) {
            return NativeRats.rejectDirectoryTransfer(nativeClientPtr, transferId, reason);
        }
        return NativeRats.rejectFileTransfer(nativeClientPtr, transferId, reason);
    }

    public int acceptDirectoryTransfer(String transferId, String localPath) {
        if (transferId != null) {
            callbacks.directoryOffers.remove(transferId);
        }
        return acceptDirectory(transferId, localPath);
    }

    private int acceptDirectory(String transferId, String localPath) {
        int r = NativeRats.acceptDirectoryTransfer(nativeClientPtr, transferId, localPath);
        if (r == SUCCESS) {
            callbacks.directories.add(transferId);
        }
        return r;
    }

    public int rejectDirectoryTransfer(String transferId, String reason) {
        if (transferId != null) {
            callbacks.directoryOffers.remove(transferId);
        }
        return NativeRats.rejectDirectoryTransfer(nativeClientPtr, transferId, reason);
    }

    /** rats extension (C: rats_cancel_file_transfer), either side. */
    public int cancelFileTransfer(String transferId) {
        return NativeRats.cancelFileTransfer(nativeClientPtr, transferId);
    }

    public int pauseFileTransfer(String transferId) {
        return NativeRats.pauseFileTransfer(nativeClientPtr, transferId);
    }

    public int resumeFileTransfer(String transferId) {
        return NativeRats.resumeFileTransfer(nativeClientPtr, transferId);
    }

    /** librats' keys (transfer_id, filename, bytes_transferred, total_bytes, status, ...); null if unknown. */
    public String getFileTransferProgressJson(String transferId) {
        return NativeRats.getFileTransferProgressJson(nativeClientPtr, transferId);
    }

    public String getFileTransferStatisticsJson() {
        try {
            return NativeRats.getFileTransferStatisticsJson(nativeClientPtr);
        } catch (UnsatisfiedLinkError e) {
            return missing("getFileTransferStatisticsJson", (String) null);
        }
    }

    // ===================== callbacks =====================

    public void setConnectionCallback(ConnectionCallback callback) {
        callbacks.connection = callback;
    }

    public void setStringCallback(StringMessageCallback callback) {
        callbacks.string = callback;
    }

    public void setBinaryCallback(BinaryMessageCallback callback) {
        callbacks.binary = callback;
    }

    public void setJsonCallback(JsonMessageCallback callback) {
        callbacks.json = callback;
    }

    public void setDisconnectCallback(DisconnectCallback callback) {
        callbacks.disconnect = callback;
    }

    /** From librats' README; rats reports every discovery source (see {@link PeerDiscoveredCallback}). */
    public void setPeerDiscoveredCallback(PeerDiscoveredCallback callback) {
        callbacks.discovered = callback;
    }

    /** The topic's messages as text, origin first; set before or after subscribing; null removes. */
    public void setTopicMessageCallback(String topic, TopicMessageCallback callback) {
        if (topic == null) {
            return;
        }
        if (callback == null) {
            callbacks.topicMessage.remove(topic);
        } else {
            callbacks.topicMessage.put(topic, callback);
            NativeRats.listenTopic(nativeClientPtr, topic);
        }
    }

    /** The topic's messages whose payload is JSON, as compact JSON; null removes. */
    public void setTopicJsonMessageCallback(String topic, TopicJsonMessageCallback callback) {
        if (topic == null) {
            return;
        }
        if (callback == null) {
            callbacks.topicJson.remove(topic);
        } else {
            callbacks.topicJson.put(topic, callback);
            NativeRats.listenTopic(nativeClientPtr, topic);
        }
    }

    /** Kept for source compatibility; not called yet (the JNI library does not report joins). */
    public void setTopicPeerJoinedCallback(String topic, TopicPeerJoinedCallback callback) {
        if (topic != null) {
            warnOnce("setTopicPeerJoinedCallback",
                    "RatsClient.setTopicPeerJoinedCallback: the JNI library does not report topic joins; the callback is not called");
            if (callback == null) {
                callbacks.topicJoined.remove(topic);
            } else {
                callbacks.topicJoined.put(topic, callback);
            }
        }
    }

    /** Kept for source compatibility; not called yet (the JNI library does not report leaves). */
    public void setTopicPeerLeftCallback(String topic, TopicPeerLeftCallback callback) {
        if (topic != null) {
            warnOnce("setTopicPeerLeftCallback",
                    "RatsClient.setTopicPeerLeftCallback: the JNI library does not report topic leaves; the callback is not called");
            if (callback == null) {
                callbacks.topicLeft.remove(topic);
            } else {
                callbacks.topicLeft.put(topic, callback);
            }
        }
    }

    /** Removes the topic's four callbacks; the subscription stays. */
    public void clearTopicCallbacks(String topic) {
        if (topic != null) {
            callbacks.topicMessage.remove(topic);
            callbacks.topicJson.remove(topic);
            callbacks.topicJoined.remove(topic);
            callbacks.topicLeft.remove(topic);
        }
    }

    /** Offers to us; without a request callback offers are refused. */
    public void setFileRequestCallback(FileRequestCallback callback) {
        callbacks.fileRequest = callback;
    }

    /** Directory offers to us (else they go to the {@link FileRequestCallback}). */
    public void setDirectoryRequestCallback(DirectoryRequestCallback callback) {
        callbacks.directoryRequest = callback;
    }

    /** Progress of every transfer, files and directories. */
    public void setFileProgressCallback(FileProgressCallback callback) {
        callbacks.fileProgress = callback;
    }

    /**
     * Progress of directory transfers (sent with {@link #sendDirectory}, requested, or
     * accepted here): files completed and total from the transfer's progress record at each
     * progress report; {@code currentFile} is "".
     */
    public void setDirectoryProgressCallback(DirectoryProgressCallback callback) {
        callbacks.directoryProgress = callback;
    }

    // ===================== library-wide =====================

    public static String getVersionString() {
        return NativeRats.getVersionString();
    }

    /** [major, minor, patch, build] of rats. */
    public static int[] getVersion() {
        return NativeRats.getVersion();
    }

    public static String getGitDescribe() {
        return NativeRats.getGitDescribe();
    }

    public static int getAbi() {
        return NativeRats.getAbi();
    }

    /** rats' log output (stderr) on or off, for the process. */
    public static void setLoggingEnabled(boolean enabled) {
        NativeRats.setLoggingEnabled(enabled);
    }

    /** "TRACE", "DEBUG", "INFO", "WARN" or "ERROR", for the process. */
    public static void setLogLevel(String level) {
        NativeRats.setLogLevel(level);
    }

    /** librats' later API: console logging is rats' log output, so the same as {@link #setLoggingEnabled}. */
    public static void setConsoleLoggingEnabled(boolean enabled) {
        consoleLogging = enabled;
        NativeRats.setLoggingEnabled(enabled);
    }

    /** What {@link #setConsoleLoggingEnabled} last set (true before any call). */
    public static boolean isConsoleLoggingEnabled() {
        return consoleLogging;
    }

    // ===================== internals =====================

    private static <T> T missing(String nativeName, T failure) {
        warnOnce(nativeName, "librats_jni does not export NativeRats." + nativeName
                + ": RatsClient returns the C API's failure value");
        return failure;
    }

    private static void warnOnce(String key, String message) {
        if (WARNED.add(key)) {
            log(message, null);
        }
    }

    /** A warning of logger "com.librats" (see {@link io.rats.jni.BindingLog}). */
    static void log(String message, Throwable t) {
        io.rats.jni.BindingLog.warn("com.librats", message, t);
    }

    static String discoveryHash(String name, String version) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-1")
                    .digest((name + "_peer_discovery_v" + version).getBytes(StandardCharsets.UTF_8));
            StringBuilder sb = new StringBuilder(40);
            for (byte b : d) {
                sb.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
            }
            return sb.toString();
        } catch (NoSuchAlgorithmException e) {
            return null;
        }
    }

    /**
     * The callbacks of one client and what they need, as the native side's listener. It does
     * not reference the {@link RatsClient}, so an unreferenced client can be collected (and
     * destroyed by {@link RatsClient#finalize()}) as in librats.
     */
    private static final class Callbacks implements NativeListener {
        static final String DEFAULT_PROTOCOL = "rats";
        static final String DEFAULT_VERSION = "1.0";

        volatile long handle;
        volatile String protocolName = DEFAULT_PROTOCOL;
        volatile String protocolVersion = DEFAULT_VERSION;
        volatile ConnectionCallback connection;
        volatile DisconnectCallback disconnect;
        volatile StringMessageCallback string;
        volatile BinaryMessageCallback binary;
        volatile JsonMessageCallback json;
        volatile PeerDiscoveredCallback discovered;
        volatile FileRequestCallback fileRequest;
        volatile DirectoryRequestCallback directoryRequest;
        volatile FileProgressCallback fileProgress;
        volatile DirectoryProgressCallback directoryProgress;
        final Map<String, JsonMessageCallback> typed = new ConcurrentHashMap<>();
        final Set<String> typesRegistered = ConcurrentHashMap.newKeySet();
        final Map<String, TopicMessageCallback> topicMessage = new ConcurrentHashMap<>();
        final Map<String, TopicJsonMessageCallback> topicJson = new ConcurrentHashMap<>();
        final Map<String, TopicPeerJoinedCallback> topicJoined = new ConcurrentHashMap<>();
        final Map<String, TopicPeerLeftCallback> topicLeft = new ConcurrentHashMap<>();
        final Set<String> subscribed = ConcurrentHashMap.newKeySet();
        /** Directory offers announced to the file request callback, not answered yet. */
        final Set<String> directoryOffers = ConcurrentHashMap.newKeySet();
        /** Directory transfers whose progress feeds the directory progress callback. */
        final Set<String> directories = ConcurrentHashMap.newKeySet();

        Callbacks(long handle) {
            this.handle = handle;
        }

        boolean listens(String topic) {
            return topicMessage.containsKey(topic) || topicJson.containsKey(topic);
        }

        private static void failed(String what, Throwable t) {
            log("com.librats: exception in the " + what + " callback", t);
        }

        @Override
        public void onConnected(String peerId) {
            ConnectionCallback c = connection;
            if (c != null) {
                try {
                    c.onConnection(peerId);
                } catch (Throwable t) {
                    failed("connection", t);
                }
            }
        }

        @Override
        public void onDisconnected(String peerId) {
            DisconnectCallback c = disconnect;
            if (c != null) {
                try {
                    c.onDisconnect(peerId);
                } catch (Throwable t) {
                    failed("disconnect", t);
                }
            }
        }

        @Override
        public void onString(String peerId, String message) {
            StringMessageCallback c = string;
            if (c != null) {
                try {
                    c.onStringMessage(peerId, message);
                } catch (Throwable t) {
                    failed("string", t);
                }
            }
        }

        @Override
        public void onBinary(String peerId, byte[] data) {
            BinaryMessageCallback c = binary;
            if (c != null) {
                try {
                    c.onBinaryMessage(peerId, data);
                } catch (Throwable t) {
                    failed("binary", t);
                }
            }
        }

        @Override
        public void onJson(String peerId, String j) {
            JsonMessageCallback c = json;
            if (c != null) {
                try {
                    c.onJsonMessage(peerId, j);
                } catch (Throwable t) {
                    failed("json", t);
                }
            }
        }

        @Override
        public void onMessage(String type, String peerId, String j) {
            JsonMessageCallback c = type == null ? null : typed.get(type);
            if (c != null) {
                try {
                    c.onJsonMessage(peerId, j);
                } catch (Throwable t) {
                    failed("message " + type, t);
                }
            }
        }

        @Override
        public void onTopicMessage(String peerId, String topic, String message) {
            if (topic == null) {
                return;
            }
            TopicMessageCallback c = topicMessage.get(topic);
            if (c != null) {
                try {
                    c.onTopicMessage(peerId, topic, message);
                } catch (Throwable t) {
                    failed("topic message", t);
                }
            }
            TopicJsonMessageCallback j = topicJson.get(topic);
            if (j != null && message != null) {
                String compact;
                try {
                    compact = Json.write(Json.parse(message));
                } catch (IllegalArgumentException notJson) {
                    return;
                }
                try {
                    j.onTopicJsonMessage(peerId, topic, compact);
                } catch (Throwable t) {
                    failed("topic JSON message", t);
                }
            }
        }

        @Override
        public void onFileRequest(String peerId, String transferId, String remotePath, String name, boolean directory) {
            try {
                DirectoryRequestCallback d = directoryRequest;
                FileRequestCallback f = fileRequest;
                if (directory && d != null) {
                    d.onDirectoryRequest(peerId, transferId, remotePath, name);
                    return;
                }
                if (f != null) {
                    if (directory) {
                        directoryOffers.add(transferId);
                    }
                    f.onFileRequest(peerId, transferId, remotePath, name);
                    return;
                }
                // No request callback: refused, as the C API does without one.
                long h = handle;
                if (directory) {
                    NativeRats.rejectDirectoryTransfer(h, transferId, "no request callback");
                } else {
                    NativeRats.rejectFileTransfer(h, transferId, "no request callback");
                }
            } catch (Throwable t) {
                failed(directory ? "directory request" : "file request", t);
            }
        }

        @Override
        public void onFileProgress(String transferId, int percent, String status) {
            FileProgressCallback c = fileProgress;
            if (c != null) {
                try {
                    c.onFileProgress(transferId, percent, status);
                } catch (Throwable t) {
                    failed("file progress", t);
                }
            }
            if (transferId == null || !directories.contains(transferId)) {
                return;
            }
            boolean over = "COMPLETED".equals(status) || "FAILED".equals(status) || "CANCELLED".equals(status);
            DirectoryProgressCallback d = directoryProgress;
            if (d != null) {
                try {
                    String p = NativeRats.getFileTransferProgressJson(handle, transferId);
                    if (p != null) {
                        Map<String, Object> m = Json.parseObject(p);
                        d.onDirectoryProgress(transferId, intOf(m.get("files_completed")), intOf(m.get("files")), "");
                    }
                } catch (Throwable t) {
                    failed("directory progress", t);
                }
            }
            if (over) {
                directories.remove(transferId);
            }
        }

        private static int intOf(Object v) {
            return v instanceof Number ? ((Number) v).intValue() : 0;
        }

        @Override
        public void onPeerDiscovered(String host, int port, String source) {
            PeerDiscoveredCallback c = discovered;
            if (c != null) {
                try {
                    c.onPeerDiscovered(host, port, source);
                } catch (Throwable t) {
                    failed("peer discovered", t);
                }
            }
        }
    }
}
