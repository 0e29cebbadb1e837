package io.rats;

import io.rats.jni.NativeListener;
import io.rats.jni.NativeRats;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A rats peer: connections, messages, publish/subscribe, file transfer and discovery, on
 * rats' native engine ({@code librats_jni}).
 *
 * <pre>{@code
 * try (Client alice = Client.builder().localOnly(true).build();
 *      Client bob = Client.builder().localOnly(true).build()) {
 *     bob.onText((peer, text) -> System.out.println(peer.substring(0, 8) + ": " + text));
 *     String bobId = alice.connect("127.0.0.1", bob.listenPort()).get(10, TimeUnit.SECONDS);
 *     alice.sendText(bobId, "hello");
 * }
 * }</pre>
 *
 * <h2>Threads</h2>
 * Every method may be called from any thread. Listeners (the {@code on...} methods, topic
 * listeners, transfer progress listeners) run on the client's own callback thread, named
 * {@code rats-cb}, one at a time and in the order the events arrived; a slow listener holds
 * up the following events (and, when the native queue is full, the peer that sends them).
 * A listener may call any method of the client, also {@link #close()}: closing from a listener
 * does not deadlock (the callback that is running finishes; no other callback of the client
 * runs after {@code close()} returns). Exceptions thrown by listeners never reach the native
 * library: they go to the handler set with {@link #onListenerError}, by default to the
 * {@link System.Logger} {@code io.rats} (level WARNING). Setting a listener replaces the
 * previous one of that kind; null removes it.
 *
 * <h2>Errors</h2>
 * Arguments Java can check (null, a malformed peer id, a port out of range, a topic longer
 * than 256 bytes, text with a NUL character) throw {@link NullPointerException} or
 * {@link IllegalArgumentException} before the native library is called; what the native side
 * refuses throws {@link RatsException} with the C API's code; a call on a closed client throws
 * {@link IllegalStateException}.
 */
public final class Client implements AutoCloseable {
    /** What {@link Builder#localOnly(boolean)} sets: no DHT, mDNS, STUN, port mapping or hole punching. */
    public static final String LOCAL_ONLY_CONFIG =
            "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";

    private static final AtomicInteger THREADS = new AtomicInteger();
    private static final int EARLY_PROGRESS_LIMIT = 1024;

    private final long handle;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Executor executor;
    private final ExecutorService ownExecutor;
    private final Dispatcher dispatcher = new Dispatcher();

    private volatile Consumer<String> peerConnected;
    private volatile Consumer<String> peerDisconnected;
    private volatile BiConsumer<String, String> text;
    private volatile BiConsumer<String, byte[]> bytes;
    private volatile BiConsumer<String, String> json;
    private volatile Function<FileOffer, Path> fileOffer;
    private volatile Consumer<Transfer> incomingTransfer;
    private volatile Consumer<TransferProgress> transferProgress;
    private volatile PeerDiscoveredListener peerDiscovered;
    private volatile BiConsumer<String, Throwable> errorHandler;

    private final Map<String, BiConsumer<String, String>> typed = new ConcurrentHashMap<>();
    private final Set<String> typesRegistered = ConcurrentHashMap.newKeySet();
    private final Map<String, BiConsumer<String, String>> topics = new ConcurrentHashMap<>();

    /** Guards {@link #transfers} and {@link #early}; never held while calling out. */
    private final Object transferLock = new Object();
    private final Map<String, Transfer> transfers = new HashMap<>();
    private final Map<String, TransferProgress> early = new LinkedHashMap<>(16, 0.75f, false) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, TransferProgress> eldest) {
            return size() > EARLY_PROGRESS_LIMIT;
        }
    };

    private Client(long handle, Executor executor, BiConsumer<String, Throwable> errorHandler) {
        this.handle = handle;
        this.errorHandler = errorHandler;
        if (executor != null) {
            this.executor = executor;
            this.ownExecutor = null;
        } else {
            this.ownExecutor = Executors.newCachedThreadPool(r -> {
                Thread t = new Thread(r, "rats-connect-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
            });
            this.executor = ownExecutor;
        }
    }

    /** A builder for a client; {@link Builder#build()} creates and starts it. */
    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ library-wide

    /** The native library's version ("0.1.0"). */
    public static String version() {
        return NativeRats.getVersionString();
    }

    /** The native library's version numbers: major, minor, patch, build. */
    public static int[] versionNumbers() {
        int[] v = NativeRats.getVersion();
        return v == null ? new int[4] : v.clone();
    }

    /** The native library's {@code git describe} string. */
    public static String gitDescribe() {
        return NativeRats.getGitDescribe();
    }

    /** The C ABI version of the native library. */
    public static int abi() {
        return NativeRats.getAbi();
    }

    /** Switches the native library's log output (stderr) on or off, for the whole process. */
    public static void setLoggingEnabled(boolean enabled) {
        NativeRats.setLoggingEnabled(enabled);
    }

    /** Sets the native library's log level for the process: TRACE, DEBUG, INFO, WARN or ERROR. */
    public static void setLogLevel(String level) {
        NativeRats.setLogLevel(Args.nonEmpty(level, "level"));
    }

    // ------------------------------------------------------------------ identity, lifecycle

    /** Our peer id: 64 hex characters (our Ed25519 public key). */
    public String peerId() {
        ensureOpen();
        return NativeRats.getOurPeerId(handle);
    }

    /** The TCP port we listen on (the real one when the builder asked for port 0). */
    public int listenPort() {
        ensureOpen();
        return NativeRats.getListenPort(handle);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed.get();
    }

    /**
     * Stops the client and releases it: connections close, unfinished transfers' results
     * complete exceptionally ({@link ErrorKind#NOT_RUNNING}), no listener runs after this
     * returns (except the one calling it, if called from a listener). Idempotent; safe from any
     * thread, listeners included.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // No Java lock is held here: the native side waits for a running callback to end
        // (unless called from it), and that callback may be waiting for a lock of ours.
        NativeRats.stop(handle);
        NativeRats.destroy(handle);
        if (ownExecutor != null) {
            ownExecutor.shutdown();
        }
        List<Transfer> open;
        synchronized (transferLock) {
            open = new ArrayList<>(transfers.values());
            transfers.clear();
            early.clear();
        }
        for (Transfer t : open) {
            t.fail(new RatsException(ErrorKind.NOT_RUNNING, "the client was closed"));
        }
    }

    // ------------------------------------------------------------------ connections and peers

    /**
     * Connects to a peer at {@code host:port} (IPv6 addresses may be given bare: "::1"). The
     * native call blocks until the connection is up (handshake done) or failed, so it runs on
     * the client's executor; the future completes with the peer's id, or exceptionally with a
     * {@link RatsException} ({@link ErrorKind#OPERATION_FAILED}: could not connect) or an
     * {@link IllegalStateException} if the client was closed meanwhile.
     *
     * <p>The C API answers a connect with yes or no only, so the id is looked up among the
     * connected peers: the one we dialled at that port, else the one new peer. A peer that was
     * connected already because it dialled us is found by its address; when several connected
     * peers share that address (all of them on 127.0.0.1, say) the future fails with
     * {@link ErrorKind#OPERATION_FAILED} although the connection is there.
     */
    public CompletableFuture<String> connect(String host, int port) {
        Args.nonEmpty(host, "host");
        Args.remotePort(port);
        ensureOpen();
        try {
            return CompletableFuture.supplyAsync(() -> connectNow(host, port), executor);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new IllegalStateException("rats client is closed", e));
        }
    }

    private String connectNow(String host, int port) {
        Set<String> before = new HashSet<>(peers());
        int r = NativeRats.connect(handle, host, port);
        if (r != 1) {
            if (closed.get()) {
                throw new IllegalStateException("rats client is closed");
            }
            if (r < 0) {
                throw new RatsException(r, "connect to " + host + ":" + port);
            }
            throw new RatsException(ErrorKind.OPERATION_FAILED, "could not connect to " + host + ":" + port);
        }
        return identify(host, port, before);
    }

    /** Which connected peer we just reached at host:port (rats_connect says only "yes"). */
    private String identify(String host, int port, Set<String> before) {
        Set<InetAddress> hostAddresses = new HashSet<>();
        try {
            hostAddresses.addAll(Arrays.asList(InetAddress.getAllByName(host)));
        } catch (UnknownHostException | SecurityException e) {
            // compared by port only
        }
        String best = null;
        int bestScore = -1;
        int bestCount = 0;
        List<String> now = peers();
        for (String id : now) {
            PeerInfo info = peerInfoOrNull(id);
            if (info == null || info.port() != port) {
                continue;
            }
            boolean sameIp = false;
            try {
                sameIp = info.ip() != null && hostAddresses.contains(InetAddress.getByName(info.ip()));
            } catch (UnknownHostException | SecurityException e) {
                // not an address literal
            }
            int score = (sameIp ? 2 : 0) + (info.outgoing() ? 1 : 0);
            if (score > bestScore) {
                best = id;
                bestScore = score;
                bestCount = 1;
            } else if (score == bestScore) {
                bestCount++;
            }
        }
        if (best != null && bestCount == 1) {
            return best;
        }
        List<String> fresh = new ArrayList<>(now);
        fresh.removeAll(before);
        if (fresh.size() == 1) {
            return fresh.get(0);
        }
        if (best != null) {
            return best;
        }
        // Already connected the other way (the peer dialled us: its port is not the one we
        // dialled): the only peer at that address, if there is one.
        String only = null;
        int sameIp = 0;
        for (String id : now) {
            PeerInfo info = peerInfoOrNull(id);
            try {
                if (info != null && info.ip() != null && hostAddresses.contains(InetAddress.getByName(info.ip()))) {
                    only = id;
                    sameIp++;
                }
            } catch (UnknownHostException | SecurityException e) {
                // not an address literal
            }
        }
        if (sameIp == 1) {
            return only;
        }
        throw new RatsException(ErrorKind.OPERATION_FAILED, "connected to " + host + ":" + port
                + ", but which peer it is cannot be told: it was connected already (it dialled us) and "
                + sameIp + " peers share that address");
    }

    /** Disconnects a peer. @throws RatsException ({@link ErrorKind#PEER_NOT_FOUND}) if not connected */
    public void disconnect(String peerId) {
        Args.peerId(peerId);
        ensureOpen();
        RatsException.check(NativeRats.disconnect(handle, peerId), "disconnect " + peerId);
    }

    /** The ids of the connected peers. */
    public List<String> peers() {
        ensureOpen();
        String[] ids = NativeRats.getPeerIds(handle);
        return ids == null ? List.of() : List.of(ids);
    }

    /** How many peers are connected. */
    public int peerCount() {
        ensureOpen();
        return NativeRats.getPeerCount(handle);
    }

    /** What the native side knows about a connected peer; empty if it is not connected. */
    public Optional<PeerInfo> peerInfo(String peerId) {
        Args.peerId(peerId);
        ensureOpen();
        return Optional.ofNullable(peerInfoOrNull(peerId));
    }

    private PeerInfo peerInfoOrNull(String peerId) {
        String j = NativeRats.getPeerInfoJson(handle, peerId);
        return j == null ? null : PeerInfo.parse(j);
    }

    /** The most peers this client takes (the builder's {@code maxPeers}, else rats' default). */
    public int maxPeers() {
        ensureOpen();
        return RatsException.check(NativeRats.getMaxPeers(handle), "get max peers");
    }

    /**
     * The connection statistics ({@code total_peers}, {@code validated_peers},
     * {@code max_peers}, {@code running}, {@code listen_port}, {@code our_peer_id},
     * {@code encryption_enabled}, {@code dht_running}, {@code mdns_running},
     * {@code gossipsub_running}, {@code transfers_active}, ...), read-only.
     */
    public Map<String, Object> statistics() {
        return Json.readOnly(Json.parseObject(statisticsJson()));
    }

    /** The connection statistics as JSON text (see {@link #statistics()}). */
    public String statisticsJson() {
        ensureOpen();
        String s = NativeRats.getConnectionStatisticsJson(handle);
        if (s == null) {
            throw new RatsException(ErrorKind.OPERATION_FAILED, "get connection statistics failed");
        }
        return s;
    }

    // ------------------------------------------------------------------ messages

    /** Sends a text message. @throws RatsException ({@link ErrorKind#PEER_NOT_FOUND}, ...) */
    public void sendText(String peerId, String text) {
        Args.peerId(peerId);
        Args.text(text, "text");
        ensureOpen();
        RatsException.check(NativeRats.sendString(handle, peerId, text), "send text");
    }

    /** Sends a text message to every connected peer; returns how many it reached. */
    public int broadcastText(String text) {
        Args.text(text, "text");
        ensureOpen();
        return RatsException.check(NativeRats.broadcastString(handle, text), "broadcast text");
    }

    /** Sends a binary message (copied before this returns). */
    public void sendBytes(String peerId, byte[] data) {
        Args.peerId(peerId);
        Objects.requireNonNull(data, "data");
        ensureOpen();
        RatsException.check(NativeRats.sendBinary(handle, peerId, data), "send bytes");
    }

    /** Sends a binary message to every connected peer; returns how many it reached. */
    public int broadcastBytes(byte[] data) {
        Objects.requireNonNull(data, "data");
        ensureOpen();
        return RatsException.check(NativeRats.broadcastBinary(handle, data), "broadcast bytes");
    }

    /**
     * Sends JSON text (the peer's {@link #onJson} listener gets it).
     * @throws RatsException ({@link ErrorKind#JSON_PARSE}) if it is not JSON
     */
    public void sendJson(String peerId, String json) {
        Args.peerId(peerId);
        Args.text(json, "json");
        ensureOpen();
        RatsException.check(NativeRats.sendJson(handle, peerId, json), "send JSON");
    }

    /** Sends JSON text to every connected peer; returns how many it reached. */
    public int broadcastJson(String json) {
        Args.text(json, "json");
        ensureOpen();
        return RatsException.check(NativeRats.broadcastJson(handle, json), "broadcast JSON");
    }

    /**
     * Sends a typed message: JSON of message type {@code type} (1..255 bytes; the peer's
     * {@link #onMessage(String, BiConsumer)} listener for that type gets it). Text that is not
     * JSON is sent as a JSON string (librats' rule): {@code "hi"} arrives as {@code "\"hi\""}.
     */
    public void send(String peerId, String type, String json) {
        Args.peerId(peerId);
        Args.messageType(type);
        Args.text(json, "json");
        ensureOpen();
        RatsException.check(NativeRats.sendMessage(handle, peerId, type, json), "send message " + type);
    }

    /** Sends a typed message to every connected peer. */
    public void broadcast(String type, String json) {
        Args.messageType(type);
        Args.text(json, "json");
        ensureOpen();
        RatsException.check(NativeRats.broadcastMessage(handle, type, json), "broadcast message " + type);
    }

    // ------------------------------------------------------------------ listeners

    /** Called with a peer's id when it connects (after the handshake). */
    public Client onPeerConnected(Consumer<String> listener) {
        this.peerConnected = listener;
        return this;
    }

    /** Called with a peer's id when it disconnects. */
    public Client onPeerDisconnected(Consumer<String> listener) {
        this.peerDisconnected = listener;
        return this;
    }

    /**
     * Called with (peer id, text) for each text message. A message from a new peer may come
     * before its {@link #onPeerConnected} event.
     */
    public Client onText(BiConsumer<String, String> listener) {
        this.text = listener;
        return this;
    }

    /** Called with (peer id, data) for each binary message; the array is the listener's to keep. */
    public Client onBytes(BiConsumer<String, byte[]> listener) {
        this.bytes = listener;
        return this;
    }

    /** Called with (peer id, JSON text) for each message sent with {@link #sendJson}. */
    public Client onJson(BiConsumer<String, String> listener) {
        this.json = listener;
        return this;
    }

    /**
     * Called with (peer id, JSON text) for each typed message of {@code type} (see
     * {@link #send(String, String, String)}); null removes the listener of that type.
     */
    public Client onMessage(String type, BiConsumer<String, String> listener) {
        Args.messageType(type);
        if (listener == null) {
            typed.remove(type);
            return this;
        }
        ensureOpen();
        typed.put(type, listener);
        if (typesRegistered.add(type)) {
            int r = NativeRats.onMessage(handle, type);
            if (r < 0) {
                typesRegistered.remove(type);
                typed.remove(type, listener);
                throw new RatsException(r, "listen for messages of type " + type);
            }
        }
        return this;
    }

    /**
     * Decides on file and directory offers: return where to save ({@code FileOffer#directory()}:
     * the directory the tree is saved as) to accept, null to refuse. Runs on the callback
     * thread; accepted offers become {@link Transfer}s (see {@link #onIncomingTransfer}).
     * Without this listener every offer is refused; a listener that throws refuses the offer
     * too (and the exception goes to the error handler).
     */
    public Client onFileOffer(Function<FileOffer, Path> decider) {
        this.fileOffer = decider;
        return this;
    }

    /** Called with each transfer accepted through {@link #onFileOffer}, right after accepting. */
    public Client onIncomingTransfer(Consumer<Transfer> listener) {
        this.incomingTransfer = listener;
        return this;
    }

    /** Called with every progress report of every transfer (sent and received). */
    public Client onTransferProgress(Consumer<TransferProgress> listener) {
        this.transferProgress = listener;
        return this;
    }

    /** Called when a discovery mechanism (DHT, mDNS, peer exchange) finds a peer. */
    public Client onPeerDiscovered(PeerDiscoveredListener listener) {
        this.peerDiscovered = listener;
        return this;
    }

    /**
     * Where exceptions thrown by listeners go: (what threw, e.g. "text" or "topic news", the
     * exception), on the callback thread. Null: the {@code io.rats} {@link System.Logger}.
     */
    public Client onListenerError(BiConsumer<String, Throwable> handler) {
        this.errorHandler = handler;
        return this;
    }

    // ------------------------------------------------------------------ publish/subscribe

    /**
     * Subscribes to a topic (GossipSub): {@code listener} gets (origin peer id, message) for
     * each message published on it, once each, our own excepted. Subscribing again replaces
     * the listener.
     */
    public void subscribe(String topic, BiConsumer<String, String> listener) {
        Args.topic(topic);
        Objects.requireNonNull(listener, "listener");
        ensureOpen();
        BiConsumer<String, String> old = topics.put(topic, listener);
        int r = NativeRats.subscribeToTopic(handle, topic);
        if (r < 0) {
            if (old == null) {
                topics.remove(topic, listener);
            } else {
                topics.put(topic, old);
            }
            throw new RatsException(r, "subscribe to " + topic);
        }
        NativeRats.listenTopic(handle, topic);
    }

    /** Leaves a topic (not subscribed: nothing happens). */
    public void unsubscribe(String topic) {
        Args.topic(topic);
        ensureOpen();
        topics.remove(topic);
        RatsException.check(NativeRats.unsubscribeFromTopic(handle, topic), "unsubscribe from " + topic);
    }

    /** The topics subscribed through this object. */
    public Set<String> subscriptions() {
        return Collections.unmodifiableSet(new HashSet<>(topics.keySet()));
    }

    /** Publishes a text message on a topic (no subscriber is not an error). */
    public void publish(String topic, String message) {
        Args.topic(topic);
        Args.text(message, "message");
        ensureOpen();
        RatsException.check(NativeRats.publishToTopic(handle, topic, message), "publish on " + topic);
    }

    /** Publishes JSON on a topic. @throws RatsException ({@link ErrorKind#JSON_PARSE}) if not JSON */
    public void publishJson(String topic, String json) {
        Args.topic(topic);
        Args.text(json, "json");
        ensureOpen();
        RatsException.check(NativeRats.publishJsonToTopic(handle, topic, json), "publish JSON on " + topic);
    }

    /** The connected peers subscribed to a topic. */
    public List<String> topicPeers(String topic) {
        Args.topic(topic);
        ensureOpen();
        String[] ids = NativeRats.getTopicPeers(handle, topic);
        return ids == null ? List.of() : List.of(ids);
    }

    // ------------------------------------------------------------------ files

    /** Offers a file to a peer (saved there under its own name). */
    public Transfer sendFile(String peerId, Path file) {
        return sendFile(peerId, file, null, null);
    }

    /** Offers a file to a peer, with a progress listener set before any report can come. */
    public Transfer sendFile(String peerId, Path file, Consumer<TransferProgress> onProgress) {
        return sendFile(peerId, file, null, onProgress);
    }

    /**
     * Offers a file to a peer under {@code remoteName} (null: the file's name). The transfer
     * starts when the peer accepts; its {@link Transfer#result()} tells how it ended.
     * @throws IllegalArgumentException if {@code file} is not a readable regular file
     * @throws RatsException if the offer could not be sent ({@link ErrorKind#PEER_NOT_FOUND}:
     *         the peer is not connected)
     */
    public Transfer sendFile(String peerId, Path file, String remoteName, Consumer<TransferProgress> onProgress) {
        Args.peerId(peerId);
        Objects.requireNonNull(file, "file");
        if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
            throw new IllegalArgumentException("not a readable file: " + file);
        }
        String name = remoteName != null ? Args.nonEmpty(remoteName, "remoteName") : file.getFileName().toString();
        String local = Args.text(file.toAbsolutePath().toString(), "file");
        ensureOpen();
        String id = NativeRats.sendFile(handle, peerId, local, name);
        if (id == null) {
            throw transferFailure("send file " + file, peerId);
        }
        return register(new Transfer(this, id, peerId, file, Transfer.Direction.SENDING, false, onProgress));
    }

    /**
     * Offers a directory tree to a peer under {@code remoteName} (null: the directory's name).
     * @throws IllegalArgumentException if {@code directory} is not a directory
     */
    public Transfer sendDirectory(String peerId, Path directory, String remoteName, boolean recursive,
                                  Consumer<TransferProgress> onProgress) {
        Args.peerId(peerId);
        Objects.requireNonNull(directory, "directory");
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException("not a directory: " + directory);
        }
        Path fileName = directory.toAbsolutePath().normalize().getFileName();
        String name = remoteName != null ? Args.nonEmpty(remoteName, "remoteName")
                : fileName == null ? "directory" : fileName.toString();
        String local = Args.text(directory.toAbsolutePath().toString(), "directory");
        ensureOpen();
        String id = NativeRats.sendDirectory(handle, peerId, local, name, recursive);
        if (id == null) {
            throw transferFailure("send directory " + directory, peerId);
        }
        return register(new Transfer(this, id, peerId, directory, Transfer.Direction.SENDING, true, onProgress));
    }

    /** Offers a directory tree (recursively) to a peer under its own name. */
    public Transfer sendDirectory(String peerId, Path directory) {
        return sendDirectory(peerId, directory, null, true, null);
    }

    /**
     * Asks a peer for one of its files (the peer serves only files below its
     * {@code "transfer": {"shared_root": DIR}} setting) and saves it as {@code localPath}.
     */
    public Transfer requestFile(String peerId, String remotePath, Path localPath, Consumer<TransferProgress> onProgress) {
        Args.peerId(peerId);
        Args.nonEmpty(remotePath, "remotePath");
        Objects.requireNonNull(localPath, "localPath");
        String local = Args.text(localPath.toAbsolutePath().toString(), "localPath");
        ensureOpen();
        String id = NativeRats.requestFile(handle, peerId, remotePath, local);
        if (id == null) {
            throw transferFailure("request file " + remotePath, peerId);
        }
        return register(new Transfer(this, id, peerId, localPath, Transfer.Direction.RECEIVING, false, onProgress));
    }

    /** A transfer of this client that has not ended yet. */
    public Optional<Transfer> transfer(String transferId) {
        Objects.requireNonNull(transferId, "transferId");
        synchronized (transferLock) {
            return Optional.ofNullable(transfers.get(transferId));
        }
    }

    /** The transfers of this client that have not ended yet. */
    public List<Transfer> transfers() {
        synchronized (transferLock) {
            return List.copyOf(transfers.values());
        }
    }

    private RatsException transferFailure(String what, String peerId) {
        if (closed.get()) {
            throw new IllegalStateException("rats client is closed");
        }
        if (!peers().contains(peerId)) {
            return new RatsException(ErrorKind.PEER_NOT_FOUND, what + " failed: peer " + peerId + " is not connected");
        }
        return new RatsException(ErrorKind.OPERATION_FAILED, what + " failed");
    }

    private Transfer register(Transfer t) {
        TransferProgress pending;
        synchronized (transferLock) {
            pending = early.remove(t.id());
            if (pending == null || !pending.isTerminal()) {
                transfers.put(t.id(), t);
            }
        }
        if (pending != null) {
            t.update(pending);
        }
        if (closed.get()) {
            synchronized (transferLock) {
                transfers.remove(t.id());
            }
            t.fail(new RatsException(ErrorKind.NOT_RUNNING, "the client was closed"));
        }
        return t;
    }

    int nativePause(String id) {
        ensureOpen();
        return NativeRats.pauseFileTransfer(handle, id);
    }

    int nativeResume(String id) {
        ensureOpen();
        return NativeRats.resumeFileTransfer(handle, id);
    }

    int nativeCancel(String id) {
        ensureOpen();
        return NativeRats.cancelFileTransfer(handle, id);
    }

    String nativeProgressJson(String id) {
        ensureOpen();
        return NativeRats.getFileTransferProgressJson(handle, id);
    }

    // ------------------------------------------------------------------ discovery, encryption

    /**
     * Starts the BitTorrent mainline DHT on UDP {@code port} (0: any). It bootstraps from the
     * {@code dht.bootstrap} setting (default: the public routers).
     */
    public void startDht(int port) {
        Args.listenPort(port);
        ensureOpen();
        RatsException.check(NativeRats.startDhtDiscovery(handle, port), "start DHT");
    }

    /** Stops the DHT. */
    public void stopDht() {
        ensureOpen();
        NativeRats.stopDhtDiscovery(handle);
    }

    /** Whether the DHT runs. */
    public boolean isDhtRunning() {
        ensureOpen();
        return NativeRats.isDhtRunning(handle);
    }

    /**
     * Starts mDNS discovery on the local network under {@code serviceName} (null: rats'
     * default). Fails ({@link ErrorKind#OPERATION_FAILED}) when the mdns plugin is off.
     */
    public void startMdns(String serviceName) {
        if (serviceName != null) {
            Args.text(serviceName, "serviceName");
        }
        ensureOpen();
        RatsException.check(NativeRats.startMdnsDiscovery(handle, serviceName), "start mDNS");
    }

    /** Stops mDNS discovery. */
    public void stopMdns() {
        ensureOpen();
        NativeRats.stopMdnsDiscovery(handle);
    }

    /** Whether mDNS discovery runs. */
    public boolean isMdnsRunning() {
        ensureOpen();
        return NativeRats.isMdnsRunning(handle);
    }

    /** Whether connections are encrypted (Noise XX; on unless the builder switched it off). */
    public boolean isEncryptionEnabled() {
        ensureOpen();
        return NativeRats.isEncryptionEnabled(handle);
    }

    /**
     * The node's static key: the secret key of its Ed25519 identity (64 hex characters); the
     * peer id and Noise's key derive from it. Keep it secret. Set it with
     * {@link Builder#encryptionKey(String)}.
     */
    public String encryptionKey() {
        ensureOpen();
        String k = NativeRats.getEncryptionKey(handle);
        if (k == null) {
            throw new RatsException(ErrorKind.OPERATION_FAILED, "get encryption key failed");
        }
        return k;
    }

    /** The data directory given to the builder, if any. */
    public Optional<Path> dataDirectory() {
        ensureOpen();
        String d;
        try {
            d = NativeRats.getDataDirectory(handle);
        } catch (UnsatisfiedLinkError e) {
            throw unsupported("getDataDirectory", e);
        }
        return d == null || d.isEmpty() ? Optional.empty() : Optional.of(Path.of(d));
    }

    @Override
    public String toString() {
        return closed.get() ? "rats.Client[closed]" : "rats.Client[" + NativeRats.getOurPeerId(handle) + "]";
    }

    // ------------------------------------------------------------------ internals

    private void ensureOpen() {
        if (closed.get()) {
            throw new IllegalStateException("rats client is closed");
        }
    }

    static UnsupportedOperationException unsupported(String nativeName, UnsatisfiedLinkError e) {
        return new UnsupportedOperationException("this librats_jni does not export NativeRats." + nativeName, e);
    }

    /** Reports an exception thrown by a listener; never throws. */
    void report(String what, Throwable t) {
        BiConsumer<String, Throwable> h = errorHandler;
        if (h != null) {
            try {
                h.accept(what, t);
                return;
            } catch (Throwable again) {
                t.addSuppressed(again);
            }
        }
        io.rats.jni.BindingLog.warn("io.rats", "rats: exception in the " + what + " listener", t);
    }

    private void offered(String peerId, String id, String remotePath, String name, boolean directory) {
        FileOffer offer = new FileOffer(peerId, id, remotePath == null ? "" : remotePath, name, directory);
        Function<FileOffer, Path> decide = fileOffer;
        Path dest = null;
        String reason = "refused";
        if (decide == null) {
            reason = "no offer handler";
        } else {
            try {
                dest = decide.apply(offer);
            } catch (Throwable t) {
                report("file offer", t);
                reason = "error";
            }
        }
        if (closed.get()) {
            return;
        }
        if (dest == null) {
            int r = directory ? NativeRats.rejectDirectoryTransfer(handle, id, reason)
                    : NativeRats.rejectFileTransfer(handle, id, reason);
            if (r < 0 && !closed.get()) {
                report("file offer", new RatsException(r, "reject transfer " + id));
            }
            return;
        }
        Transfer t = register(new Transfer(this, id, peerId, dest, Transfer.Direction.RECEIVING, directory, null));
        String local = dest.toAbsolutePath().toString();
        int r = directory ? NativeRats.acceptDirectoryTransfer(handle, id, local)
                : NativeRats.acceptFileTransfer(handle, id, local);
        if (r < 0) {
            synchronized (transferLock) {
                transfers.remove(id);
            }
            RatsException e = new RatsException(r, "accept transfer " + id + " as " + dest);
            t.fail(e);
            if (!closed.get()) {
                report("file offer", e);
            }
            return;
        }
        Consumer<Transfer> l = incomingTransfer;
        if (l != null) {
            try {
                l.accept(t);
            } catch (Throwable x) {
                report("incoming transfer", x);
            }
        }
    }

    private void progressed(String id, int percent, String statusName) {
        TransferProgress p = new TransferProgress(id, percent, TransferStatus.fromName(statusName), statusName);
        Transfer t;
        synchronized (transferLock) {
            t = transfers.get(id);
            if (t == null) {
                early.put(id, p);
            } else if (p.isTerminal()) {
                transfers.remove(id);
            }
        }
        if (t != null) {
            t.update(p);
        }
        Consumer<TransferProgress> l = transferProgress;
        if (l != null) {
            l.accept(p);
        }
    }

    /** The native side's listener: dispatches to the application's listeners. */
    private final class Dispatcher implements NativeListener {
        @Override
        public void onConnected(String peerId) {
            Consumer<String> l = peerConnected;
            if (l != null) {
                try {
                    l.accept(peerId);
                } catch (Throwable t) {
                    report("peer connected", t);
                }
            }
        }

        @Override
        public void onDisconnected(String peerId) {
            Consumer<String> l = peerDisconnected;
            if (l != null) {
                try {
                    l.accept(peerId);
                } catch (Throwable t) {
                    report("peer disconnected", t);
                }
            }
        }

        @Override
        public void onString(String peerId, String message) {
            BiConsumer<String, String> l = text;
            if (l != null) {
                try {
                    l.accept(peerId, message);
                } catch (Throwable t) {
                    report("text", t);
                }
            }
        }

        @Override
        public void onBinary(String peerId, byte[] data) {
            BiConsumer<String, byte[]> l = bytes;
            if (l != null) {
                try {
                    l.accept(peerId, data);
                } catch (Throwable t) {
                    report("bytes", t);
                }
            }
        }

        @Override
        public void onJson(String peerId, String j) {
            BiConsumer<String, String> l = json;
            if (l != null) {
                try {
                    l.accept(peerId, j);
                } catch (Throwable t) {
                    report("json", t);
                }
            }
        }

        @Override
        public void onMessage(String type, String peerId, String j) {
            BiConsumer<String, String> l = type == null ? null : typed.get(type);
            if (l != null) {
                try {
                    l.accept(peerId, j);
                } catch (Throwable t) {
                    report("message " + type, t);
                }
            }
        }

        @Override
        public void onTopicMessage(String peerId, String topic, String message) {
            BiConsumer<String, String> l = topic == null ? null : topics.get(topic);
            if (l != null) {
                try {
                    l.accept(peerId, message);
                } catch (Throwable t) {
                    report("topic " + topic, t);
                }
            }
        }

        @Override
        public void onFileRequest(String peerId, String transferId, String remotePath, String name, boolean directory) {
            try {
                offered(peerId, transferId, remotePath, name, directory);
            } catch (Throwable t) {
                report("file offer", t);
            }
        }

        @Override
        public void onFileProgress(String transferId, int percent, String status) {
            try {
                progressed(transferId, percent, status);
            } catch (Throwable t) {
                report("transfer progress", t);
            }
        }

        @Override
        public void onPeerDiscovered(String host, int port, String source) {
            PeerDiscoveredListener l = peerDiscovered;
            if (l != null) {
                try {
                    l.onPeerDiscovered(host, port, source);
                } catch (Throwable t) {
                    report("peer discovered", t);
                }
            }
        }
    }

    // ------------------------------------------------------------------ builder

    /**
     * Settings of a new client; {@link #build()} creates it, applies them and starts it.
     * Everything here is fixed at start (rats' rule): there are no setters on a running client.
     */
    public static final class Builder {
        private int port;
        private String protocolName;
        private String protocolVersion;
        private Integer maxPeers;
        private boolean localOnly;
        private Path dataDirectory;
        private final List<String> configs = new ArrayList<>();
        private Boolean encryption;
        private String encryptionKey;
        private Executor executor;
        private BiConsumer<String, Throwable> errorHandler;

        private Builder() {}

        /** The TCP port to listen on (0, the default: any free port; see {@link Client#listenPort()}). */
        public Builder port(int port) {
            this.port = Args.listenPort(port);
            return this;
        }

        /**
         * The application protocol name and version (peers must agree; they also make the
         * DHT discovery hash). Default: rats' own.
         */
        public Builder protocol(String name, String version) {
            this.protocolName = Args.nonEmpty(name, "name");
            this.protocolVersion = Args.nonEmpty(version, "version");
            return this;
        }

        /** The most peers (pending handshakes count too); at least 1. */
        public Builder maxPeers(int maxPeers) {
            if (maxPeers < 1) {
                throw new IllegalArgumentException("maxPeers must be at least 1: " + maxPeers);
            }
            this.maxPeers = maxPeers;
            return this;
        }

        /**
         * Keeps the client off the network except for the peers it is told to connect to:
         * no DHT, mDNS, STUN, port mapping or hole punching ({@link Client#LOCAL_ONLY_CONFIG},
         * applied before the {@link #config} texts, which may override its
         * {@code disabled_plugins}).
         */
        public Builder localOnly(boolean localOnly) {
            this.localOnly = localOnly;
            return this;
        }

        /**
         * A directory for the identity (a stable peer id), {@code config.json} and the peer
         * store; locked while the client runs (a second client is refused).
         */
        public Builder dataDirectory(Path dir) {
            this.dataDirectory = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /**
         * rats configuration keys as a JSON object, as in rats' {@code config.json}, e.g.
         * {@code {"transfer": {"shared_root": "/srv/files"}}}. May be called more than once:
         * later keys override earlier ones.
         * @throws IllegalArgumentException if it is not a JSON object
         */
        public Builder config(String json) {
            Args.text(json, "json");
            Object v;
            try {
                v = Json.parse(json);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("config is not JSON: " + e.getMessage(), e);
            }
            if (!(v instanceof Map)) {
                throw new IllegalArgumentException("config is not a JSON object");
            }
            configs.add(json);
            return this;
        }

        /** Encryption (Noise XX) on, the default, or off (plaintext, for debugging: both sides must agree). */
        public Builder encryption(boolean enabled) {
            this.encryption = enabled;
            return this;
        }

        /**
         * The node's static key, 64 hex characters: the secret key of its Ed25519 identity
         * (so the peer id follows from it). Default: a fresh one (or the data directory's).
         * {@link #build()} fails with {@link ErrorKind#INVALID_PARAMETER} for a key rats does
         * not take (one whose public key is not canonical).
         */
        public Builder encryptionKey(String keyHex) {
            Objects.requireNonNull(keyHex, "keyHex");
            if (keyHex.length() != 64 || !Args.isHex(keyHex)) {
                throw new IllegalArgumentException("an encryption key is 64 hex characters");
            }
            this.encryptionKey = keyHex;
            return this;
        }

        /**
         * Where {@link Client#connect} runs its blocking native call. Default: a pool of
         * daemon threads of the client, shut down by {@link Client#close()}.
         */
        public Builder executor(Executor executor) {
            this.executor = Objects.requireNonNull(executor, "executor");
            return this;
        }

        /** The listener error handler from the start (see {@link Client#onListenerError}). */
        public Builder listenerErrorHandler(BiConsumer<String, Throwable> handler) {
            this.errorHandler = handler;
            return this;
        }

        /**
         * Creates the client, applies the settings and starts it.
         * @throws RatsException if the native side refuses a setting or cannot start (a port
         *         in use, a locked data directory, ...)
         * @throws UnsupportedOperationException if {@link #dataDirectory} was set and the
         *         native library does not export {@code NativeRats.setDataDirectory}
         */
        public Client build() {
            NativeRats.ensureLoaded();
            long h = NativeRats.create(port);
            if (h == 0) {
                throw new RatsException(ErrorKind.OPERATION_FAILED, "could not create a client on port " + port);
            }
            Client c = new Client(h, executor, errorHandler);
            try {
                // The listener first: offers are refused by the native side without one.
                NativeRats.setListener(h, c.dispatcher);
                if (localOnly) {
                    RatsException.check(NativeRats.setConfigJson(h, LOCAL_ONLY_CONFIG), "local-only configuration");
                }
                for (String json : configs) {
                    RatsException.check(NativeRats.setConfigJson(h, json), "configuration " + json);
                }
                if (protocolName != null) {
                    RatsException.check(NativeRats.setProtocolName(h, protocolName), "set protocol name");
                    RatsException.check(NativeRats.setProtocolVersion(h, protocolVersion), "set protocol version");
                }
                if (maxPeers != null) {
                    RatsException.check(NativeRats.setMaxPeers(h, maxPeers), "set max peers");
                }
                if (encryption != null) {
                    RatsException.check(NativeRats.setEncryptionEnabled(h, encryption), "set encryption");
                }
                if (dataDirectory != null) {
                    String dir = Args.text(dataDirectory.toAbsolutePath().toString(), "dataDirectory");
                    int r;
                    try {
                        r = NativeRats.setDataDirectory(h, dir);
                    } catch (UnsatisfiedLinkError e) {
                        throw unsupported("setDataDirectory", e);
                    }
                    RatsException.check(r, "set data directory " + dir);
                }
                if (encryptionKey != null) {
                    RatsException.check(NativeRats.setEncryptionKey(h, encryptionKey), "set encryption key");
                }
                RatsException.check(NativeRats.start(h), "start");
            } catch (RuntimeException | Error e) {
                c.close();
                throw e;
            }
            return c;
        }
    }
}
