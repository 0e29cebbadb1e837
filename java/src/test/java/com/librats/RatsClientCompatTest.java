package com.librats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * librats' Java API used the way librats' examples use it (anonymous callback classes, codes
 * compared with RatsClient.SUCCESS), on 127.0.0.1 only.
 */
@Timeout(60)
class RatsClientCompatTest {
    static final String LOCAL =
            "{\"disabled_plugins\": [\"dht\", \"mdns\", \"stun\", \"portmap\", \"holepunch\"]}";
    static final long WAIT = 20;

    @TempDir
    Path tmp;

    private final List<RatsClient> clients = new ArrayList<>();

    @AfterEach
    void destroyAll() {
        for (RatsClient c : clients) {
            c.stop();
            c.destroy();
        }
    }

    private RatsClient newClient() {
        RatsClient c = new RatsClient(0);
        clients.add(c);
        assertEquals(RatsClient.SUCCESS, c.setConfigJson(LOCAL));
        return c;
    }

    @Test
    void connectCallbacksSendAndBroadcast() throws Exception {
        RatsClient.setLoggingEnabled(true);
        RatsClient.setLogLevel("WARN");
        assertNotNull(RatsClient.getVersionString());
        assertEquals(4, RatsClient.getVersion().length);

        final LinkedBlockingQueue<String> events = new LinkedBlockingQueue<>();
        RatsClient server = newClient();
        server.setConnectionCallback(new ConnectionCallback() {
            @Override
            public void onConnection(String peerId) {
                events.add("connected " + peerId);
            }
        });
        server.setStringCallback(new StringMessageCallback() {
            @Override
            public void onStringMessage(String peerId, String message) {
                events.add("string " + message);
            }
        });
        server.setBinaryCallback(new BinaryMessageCallback() {
            @Override
            public void onBinaryMessage(String peerId, byte[] data) {
                StringBuilder sb = new StringBuilder("binary");
                for (byte b : data) {
                    sb.append(' ').append(b);
                }
                events.add(sb.toString());
            }
        });
        server.setJsonCallback(new JsonMessageCallback() {
            @Override
            public void onJsonMessage(String peerId, String jsonStr) {
                events.add("json " + jsonStr.replace(" ", ""));
            }
        });
        server.setDisconnectCallback(new DisconnectCallback() {
            @Override
            public void onDisconnect(String peerId) {
                events.add("disconnected " + peerId);
            }
        });
        assertEquals(RatsClient.SUCCESS, server.start());
        assertEquals(RatsClient.SUCCESS, server.start(), "starting twice is fine");

        RatsClient client = newClient();
        final CountDownLatch connected = new CountDownLatch(1);
        client.setConnectionCallback(peerId -> connected.countDown()); // a lambda works too
        assertEquals(RatsClient.SUCCESS, client.start());
        assertTrue(client.getListenPort() > 0);

        assertEquals(1, client.connect("127.0.0.1", server.getListenPort()));
        assertTrue(connected.await(WAIT, TimeUnit.SECONDS));
        assertEquals("connected " + client.getOurPeerId(), events.poll(WAIT, TimeUnit.SECONDS));

        String[] peerIds = client.getPeerIds();
        assertEquals(1, peerIds.length);
        assertEquals(server.getOurPeerId(), peerIds[0]);
        assertEquals(1, client.getPeerCount());
        assertArrayEquals(peerIds, client.getValidatedPeerIds());
        assertTrue(client.getConnectionStatisticsJson().contains("\"total_peers\":1"));
        assertTrue(client.getPeerInfoJson(peerIds[0]).contains(peerIds[0]));
        assertTrue(client.isEncryptionEnabled());
        assertTrue(client.isPeerEncrypted(peerIds[0]));

        assertEquals(RatsClient.SUCCESS, client.sendString(peerIds[0], "Hello from Android!"));
        assertEquals("string Hello from Android!", events.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(RatsClient.SUCCESS, client.sendBinary(peerIds[0], new byte[] {0x01, 0x02, 0x03}));
        assertEquals("binary 1 2 3", events.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(RatsClient.SUCCESS, client.sendJson(peerIds[0], "{\"type\":\"ping\"}"));
        assertEquals("json {\"type\":\"ping\"}", events.poll(WAIT, TimeUnit.SECONDS));

        assertEquals(1, client.broadcastString("Hello everyone!"));
        assertEquals("string Hello everyone!", events.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(1, client.broadcastBinary(new byte[] {7}));
        assertEquals("binary 7", events.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(1, client.broadcastJson("{\"type\":\"announcement\"}"));
        assertEquals("json {\"type\":\"announcement\"}", events.poll(WAIT, TimeUnit.SECONDS));

        // Typed messages (rats extension, from the C API).
        assertEquals(RatsClient.SUCCESS, server.onMessage("chat", (peerId, json) -> events.add("chat " + json.replace(" ", ""))));
        assertEquals(RatsClient.SUCCESS, client.sendMessage(peerIds[0], "chat", "{\"text\":\"hi\"}"));
        assertEquals("chat {\"text\":\"hi\"}", events.poll(WAIT, TimeUnit.SECONDS));

        // Error codes, as the C API gives them.
        RatsClient stranger = newClient();
        assertEquals(RatsClient.ERROR_PEER_NOT_FOUND, client.sendString(stranger.getOurPeerId(), "x"));
        assertEquals(RatsClient.ERROR_JSON_PARSE, client.sendJson(peerIds[0], "{not json"));
        assertEquals(RatsClient.ERROR_INVALID_PARAMETER, client.sendString(null, "x"));
        assertEquals(RatsClient.ERROR_NOT_RUNNING, stranger.subscribeToTopic("t"));
        assertEquals(0, client.connect("127.0.0.1", 1));
        assertEquals("Peer not found", RatsException.getErrorMessage(RatsClient.ERROR_PEER_NOT_FOUND));

        // connectWithStrategy returns SUCCESS, as in librats' example.
        assertEquals(RatsClient.SUCCESS, stranger.start());
        assertEquals(RatsClient.SUCCESS,
                stranger.connectWithStrategy("127.0.0.1", server.getListenPort(), RatsClient.STRATEGY_AUTO_ADAPTIVE));
        assertEquals(RatsClient.SUCCESS,
                stranger.connectWithStrategy("127.0.0.1", client.getListenPort(), RatsClient.STRATEGY_DIRECT_ONLY));
        assertEquals(2, stranger.getPeerCount());
        String strangerConnected = events.poll(WAIT, TimeUnit.SECONDS);
        assertEquals("connected " + stranger.getOurPeerId(), strangerConnected);

        // Disconnect and destroy.
        client.stop();
        assertEquals("disconnected " + client.getOurPeerId(), events.poll(WAIT, TimeUnit.SECONDS));
        client.destroy();
        assertNull(client.getOurPeerId());
        assertEquals(RatsClient.ERROR_INVALID_HANDLE, client.sendString(peerIds[0], "x"));
        assertEquals(RatsClient.ERROR_INVALID_HANDLE, client.start());
        client.destroy(); // twice: nothing
    }

    @Test
    void topics() throws Exception {
        RatsClient a = newClient();
        RatsClient b = newClient();
        assertEquals(RatsClient.SUCCESS, a.start());
        assertEquals(RatsClient.SUCCESS, b.start());
        assertTrue(a.isGossipsubRunning());
        assertEquals(1, a.connect("127.0.0.1", b.getListenPort()));

        final LinkedBlockingQueue<String> got = new LinkedBlockingQueue<>();
        b.setTopicMessageCallback("chat", new TopicMessageCallback() {
            @Override
            public void onTopicMessage(String peerId, String topic, String message) {
                got.add("message " + topic + " " + message + " from " + peerId);
            }
        });
        b.setTopicJsonMessageCallback("chat", new TopicJsonMessageCallback() {
            @Override
            public void onTopicJsonMessage(String peerId, String topic, String jsonStr) {
                got.add("json " + topic + " " + jsonStr);
            }
        });
        b.setTopicPeerJoinedCallback("chat", (peerId, topic) -> { });
        assertEquals(RatsClient.SUCCESS, b.subscribeToTopic("chat"));
        assertEquals(RatsClient.SUCCESS, a.subscribeToTopic("chat"));
        assertTrue(a.isSubscribedToTopic("chat"));
        assertArrayEquals(new String[] {"chat"}, a.getSubscribedTopics());
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT);
        while (a.getTopicPeers("chat").length == 0 && System.nanoTime() < end) {
            Thread.sleep(20);
        }
        assertArrayEquals(new String[] {b.getOurPeerId()}, a.getTopicPeers("chat"));

        assertEquals(RatsClient.SUCCESS, a.publishToTopic("chat", "plain text"));
        assertEquals("message chat plain text from " + a.getOurPeerId(), got.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(RatsClient.SUCCESS, a.publishJsonToTopic("chat", "{ \"n\" : 1 }"));
        List<String> two = new ArrayList<>();
        two.add(got.poll(WAIT, TimeUnit.SECONDS));
        two.add(got.poll(WAIT, TimeUnit.SECONDS));
        Collections.sort(two);
        assertEquals("json chat {\"n\":1}", two.get(0));
        assertTrue(two.get(1).startsWith("message chat {"), two.get(1));
        assertEquals(RatsClient.ERROR_JSON_PARSE, a.publishJsonToTopic("chat", "nope"));

        b.clearTopicCallbacks("chat");
        assertEquals(RatsClient.SUCCESS, a.publishToTopic("chat", "nobody listens"));
        assertNull(got.poll(500, TimeUnit.MILLISECONDS));
        assertEquals(RatsClient.SUCCESS, a.unsubscribeFromTopic("chat"));
        assertFalse(a.isSubscribedToTopic("chat"));
    }

    @Test
    void fileSendWithAnAcceptCallback() throws Exception {
        final RatsClient receiver = newClient();
        RatsClient sender = newClient();
        final Path inbox = Files.createDirectories(tmp.resolve("inbox"));
        final List<String> offers = Collections.synchronizedList(new ArrayList<>());
        receiver.setFileRequestCallback(new FileRequestCallback() {
            @Override
            public void onFileRequest(String peerId, String transferId, String remotePath, String filename) {
                offers.add(filename);
                receiver.acceptFileTransfer(transferId, inbox.resolve(filename).toString());
            }
        });
        final LinkedBlockingQueue<String> done = new LinkedBlockingQueue<>();
        final List<String> statuses = Collections.synchronizedList(new ArrayList<>());
        sender.setFileProgressCallback(new FileProgressCallback() {
            @Override
            public void onFileProgress(String transferId, int progressPercent, String status) {
                statuses.add(status);
                if (status.equals("COMPLETED") || status.equals("FAILED") || status.equals("CANCELLED")) {
                    done.add(transferId + " " + status);
                }
            }
        });
        final List<String> dirProgress = Collections.synchronizedList(new ArrayList<>());
        sender.setDirectoryProgressCallback(new DirectoryProgressCallback() {
            @Override
            public void onDirectoryProgress(String transferId, int filesCompleted, int totalFiles, String currentFile) {
                dirProgress.add(filesCompleted + "/" + totalFiles);
            }
        });
        assertEquals(RatsClient.SUCCESS, receiver.start());
        assertEquals(RatsClient.SUCCESS, sender.start());
        assertEquals(1, sender.connect("127.0.0.1", receiver.getListenPort()));
        String peer = sender.getPeerIds()[0];

        Path file = tmp.resolve("file.txt");
        byte[] data = new byte[200_000];
        new Random(5).nextBytes(data);
        Files.write(file, data);
        String id = sender.sendFile(peer, file.toString(), "remote_file.txt");
        assertNotNull(id);
        assertEquals(id + " COMPLETED", done.poll(WAIT, TimeUnit.SECONDS));
        assertEquals(List.of("remote_file.txt"), offers);
        assertArrayEquals(data, Files.readAllBytes(inbox.resolve("remote_file.txt")));
        assertTrue(statuses.contains("STARTING") || statuses.contains("IN_PROGRESS"), statuses.toString());
        assertNotNull(sender.getFileTransferProgressJson(id));

        // A directory: offered to the file request callback, accepted with acceptFileTransfer.
        Path dir = Files.createDirectories(tmp.resolve("dir/sub"));
        Files.writeString(dir.resolve("a.txt"), "a");
        Files.writeString(tmp.resolve("dir/b.txt"), "bb");
        String dirId = sender.sendDirectory(peer, tmp.resolve("dir").toString(), "remote_dir");
        assertNotNull(dirId);
        assertEquals(dirId + " COMPLETED", done.poll(WAIT, TimeUnit.SECONDS));
        assertEquals("a", Files.readString(inbox.resolve("remote_dir/sub/a.txt")));
        assertEquals("bb", Files.readString(inbox.resolve("remote_dir/b.txt")));
        assertFalse(dirProgress.isEmpty(), "directory progress");
        assertEquals("2/2", dirProgress.get(dirProgress.size() - 1));

        // Rejected: the sender sees FAILED.
        receiver.setFileRequestCallback((peerId, transferId, remotePath, filename) ->
                receiver.rejectFileTransfer(transferId, "Not accepting files"));
        String rejected = sender.sendFile(peer, file.toString(), "again.txt");
        assertEquals(rejected + " FAILED", done.poll(WAIT, TimeUnit.SECONDS));

        // No request callback: refused too.
        receiver.setFileRequestCallback(null);
        String refused = sender.sendFile(peer, file.toString(), "third.txt");
        assertEquals(refused + " FAILED", done.poll(WAIT, TimeUnit.SECONDS));
        assertNull(sender.sendFile(peer, tmp.resolve("missing").toString(), "x"));
    }

    @Test
    void directoryOffersToTheDirectoryRequestCallback() throws Exception {
        final RatsClient receiver = newClient();
        RatsClient sender = newClient();
        final Path inbox = Files.createDirectories(tmp.resolve("inbox"));
        final LinkedBlockingQueue<String> seen = new LinkedBlockingQueue<>();
        receiver.setFileRequestCallback((peerId, transferId, remotePath, filename) -> seen.add("file " + filename));
        receiver.setDirectoryRequestCallback(new DirectoryRequestCallback() {
            @Override
            public void onDirectoryRequest(String peerId, String transferId, String remotePath, String directoryName) {
                seen.add("directory " + directoryName);
                receiver.acceptDirectoryTransfer(transferId, inbox.resolve(directoryName).toString());
            }
        });
        receiver.setFileProgressCallback((transferId, percent, status) -> {
            if (status.equals("COMPLETED")) {
                seen.add("completed " + transferId);
            }
        });
        assertEquals(RatsClient.SUCCESS, receiver.start());
        assertEquals(RatsClient.SUCCESS, sender.start());
        assertEquals(1, sender.connect("127.0.0.1", receiver.getListenPort()));
        Path dir = Files.createDirectories(tmp.resolve("photos"));
        Files.writeString(dir.resolve("one.jpg"), "1");
        String id = sender.sendDirectory(sender.getPeerIds()[0], dir.toString(), "photos", true);
        assertNotNull(id);
        assertEquals("directory photos", seen.poll(WAIT, TimeUnit.SECONDS));
        assertEquals("completed " + id, seen.poll(WAIT, TimeUnit.SECONDS));
        assertEquals("1", Files.readString(inbox.resolve("photos/one.jpg")));
    }

    @Test
    void callbacksMayStopAndDestroyTheirClient() throws Exception {
        final RatsClient a = newClient();
        final RatsClient b = newClient();
        final CountDownLatch destroyed = new CountDownLatch(1);
        b.setStringCallback(new StringMessageCallback() {
            @Override
            public void onStringMessage(String peerId, String message) {
                b.stop();
                b.destroy();
                destroyed.countDown();
            }
        });
        final CountDownLatch gone = new CountDownLatch(1);
        a.setDisconnectCallback(peerId -> gone.countDown());
        a.setConnectionCallback(peerId -> {
            throw new IllegalStateException("a throwing callback is logged and dropped");
        });
        assertEquals(RatsClient.SUCCESS, a.start());
        assertEquals(RatsClient.SUCCESS, b.start());
        assertEquals(1, a.connect("127.0.0.1", b.getListenPort()));
        assertEquals(RatsClient.SUCCESS, a.sendString(a.getPeerIds()[0], "destroy yourself"));
        assertTrue(destroyed.await(WAIT, TimeUnit.SECONDS));
        assertTrue(gone.await(WAIT, TimeUnit.SECONDS));
        assertEquals(RatsClient.ERROR_INVALID_HANDLE, b.start());
    }

    @Test
    void settingsAndHashes() {
        RatsClient c = newClient();
        assertEquals(RatsClient.SUCCESS, c.setEncryptionEnabled(false));
        assertFalse(c.isEncryptionEnabled());
        assertEquals(RatsClient.SUCCESS, c.initializeEncryption(true));
        String key = c.generateEncryptionKey();
        assertEquals(64, key.length());
        assertEquals(key, c.getEncryptionKey());
        assertEquals(RatsClient.SUCCESS, c.setEncryptionKey("11".repeat(32)));
        assertEquals("11".repeat(32), c.getEncryptionKey());
        assertEquals(RatsClient.ERROR_INVALID_PARAMETER, c.setEncryptionKey("short"));
        assertEquals(RatsClient.SUCCESS, c.setMaxPeers(5));
        assertEquals(5, c.getMaxPeers());
        assertEquals(RatsClient.SUCCESS, c.setProtocolName("myapp"));
        assertEquals(RatsClient.SUCCESS, c.setProtocolVersion("2.0"));
        assertEquals(RatsClient.discoveryHash("myapp", "2.0"), c.getDiscoveryHash());
        assertEquals(RatsClient.discoveryHash("rats", "1.0"), RatsClient.getRatsPeerDiscoveryHash());
        assertEquals(40, RatsClient.getRatsPeerDiscoveryHash().length());
        assertEquals(RatsClient.SUCCESS, c.start());
        assertEquals(RatsClient.ERROR_OPERATION_FAILED, c.setMaxPeers(6), "rats fixes settings at start");
        assertFalse(c.isDhtRunning());
        assertFalse(c.isMdnsRunning());
        assertThrows(RuntimeException.class, () -> new RatsClient(70000));
    }
}
