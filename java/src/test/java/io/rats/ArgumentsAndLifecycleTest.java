package io.rats;

import static io.rats.TestSupport.WAIT_SECONDS;
import static io.rats.TestSupport.connect;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import io.rats.jni.NativeRats;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Exceptions for bad arguments, native refusals and closed clients; builder settings. */
@Timeout(60)
class ArgumentsAndLifecycleTest {
    static final String UNKNOWN_PEER = "ab".repeat(32);

    @TempDir
    Path tmp;

    @Test
    void badArgumentsAreRefusedInJava() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> Client.builder().port(-1));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().port(65536));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().maxPeers(0));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().config("not json"));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().config("[1, 2]"));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().encryptionKey("abc"));
        // 64 hex characters, but not a key whose public key is canonical: the native side refuses it.
        RatsException notCanonical = assertThrows(RatsException.class,
                () -> Client.builder().localOnly(true).encryptionKey("22".repeat(32)).build());
        assertEquals(ErrorKind.INVALID_PARAMETER, notCanonical.kind());
        assertThrows(NullPointerException.class, () -> Client.builder().protocol(null, "1"));
        assertThrows(IllegalArgumentException.class, () -> Client.builder().protocol("", "1"));
        assertThrows(NullPointerException.class, () -> Client.builder().dataDirectory(null));
        assertThrows(NullPointerException.class, () -> Client.builder().executor(null));

        try (Client a = TestSupport.local()) {
            assertThrows(NullPointerException.class, () -> a.sendText(null, "x"));
            assertThrows(NullPointerException.class, () -> a.sendText(UNKNOWN_PEER, null));
            assertThrows(IllegalArgumentException.class, () -> a.sendText("not-a-peer", "x"));
            assertThrows(IllegalArgumentException.class, () -> a.sendText("zz".repeat(32), "x"));
            assertThrows(IllegalArgumentException.class, () -> a.sendText(UNKNOWN_PEER, "nul\0inside"));
            assertThrows(NullPointerException.class, () -> a.sendBytes(UNKNOWN_PEER, null));
            assertThrows(NullPointerException.class, () -> a.broadcastBytes(null));
            assertThrows(NullPointerException.class, () -> a.connect(null, 1));
            assertThrows(IllegalArgumentException.class, () -> a.connect("", 1));
            assertThrows(IllegalArgumentException.class, () -> a.connect("127.0.0.1", 0));
            assertThrows(IllegalArgumentException.class, () -> a.connect("127.0.0.1", 70000));
            assertThrows(IllegalArgumentException.class, () -> a.onMessage("", (p, j) -> { }));
            assertThrows(IllegalArgumentException.class, () -> a.send(UNKNOWN_PEER, "", "{}"));
            assertThrows(IllegalArgumentException.class, () -> a.peerInfo("short"));
            assertThrows(IllegalArgumentException.class, () -> a.disconnect("short"));
            assertThrows(IllegalArgumentException.class, () -> a.startDht(-1));
            assertThrows(IllegalArgumentException.class, () -> a.subscribe("", (p, m) -> { }));
        }
    }

    @Test
    void nativeRefusalsAreRatsExceptions() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local(); Client c = TestSupport.local()) {
            String UNKNOWN_PEER = c.peerId(); // a real peer id, not connected to a
            RatsException e = assertThrows(RatsException.class, () -> a.sendText(UNKNOWN_PEER, "x"));
            assertEquals(ErrorKind.PEER_NOT_FOUND, e.kind());
            assertEquals(-5, e.code());
            e = assertThrows(RatsException.class, () -> a.disconnect(UNKNOWN_PEER));
            assertEquals(ErrorKind.PEER_NOT_FOUND, e.kind());
            assertTrue(a.peerInfo(UNKNOWN_PEER).isEmpty());
            assertEquals(0, a.broadcastText("nobody"));

            String bId = connect(a, b);
            e = assertThrows(RatsException.class, () -> a.sendJson(bId, "{broken"));
            assertEquals(ErrorKind.JSON_PARSE, e.kind());
            assertEquals(-7, e.code());
            // A typed message's text that is not JSON goes as a JSON string (librats' rule).
            CompletableFuture<String> typed = new CompletableFuture<>();
            b.onMessage("chat", (p, j) -> typed.complete(j));
            a.send(bId, "chat", "not json");
            assertEquals("not json", Json.parse(typed.get(WAIT_SECONDS, TimeUnit.SECONDS)));
            assertThrows(IllegalArgumentException.class, () -> a.send(bId, "t".repeat(256), "{}"));

            // Nothing listens on this port: the future fails.
            int closedPort;
            try (ServerSocket s = new ServerSocket(0)) {
                closedPort = s.getLocalPort();
            }
            ExecutionException x = assertThrows(ExecutionException.class,
                    () -> a.connect("127.0.0.1", closedPort).get(WAIT_SECONDS, TimeUnit.SECONDS));
            RatsException re = assertInstanceOf(RatsException.class, x.getCause());
            assertEquals(ErrorKind.OPERATION_FAILED, re.kind());

            // A setting the native side refuses, and a port in use, fail build().
            RatsException bad = assertThrows(RatsException.class,
                    () -> Client.builder().localOnly(true).config("{\"disabled_plugins\": 5}").build());
            assertEquals(ErrorKind.INVALID_PARAMETER, bad.kind());
            assertThrows(RatsException.class, () -> Client.builder().localOnly(true).port(a.listenPort()).build());

            // mDNS with the plugin off.
            assertFalse(a.isMdnsRunning());
            assertFalse(a.isDhtRunning());
            e = assertThrows(RatsException.class, () -> a.startMdns("x"));
            assertEquals(ErrorKind.OPERATION_FAILED, e.kind());
        }
    }

    @Test
    void closedClientsSayTheyAreClosed() throws Exception {
        Client a = TestSupport.local();
        Client b = TestSupport.local();
        try {
            String bId = connect(a, b);
            String aId = a.peerId();
            CompletableFuture<String> gone = new CompletableFuture<>();
            b.onPeerDisconnected(gone::complete);
            a.close();
            assertTrue(a.isClosed());
            assertDoesNotThrow(a::close); // idempotent
            assertEquals(a.toString(), "rats.Client[closed]");
            assertThrows(IllegalStateException.class, a::peerId);
            assertThrows(IllegalStateException.class, a::peers);
            assertThrows(IllegalStateException.class, () -> a.sendText(bId, "x"));
            assertThrows(IllegalStateException.class, () -> a.connect("127.0.0.1", b.listenPort()));
            assertThrows(IllegalStateException.class, () -> a.subscribe("t", (p, m) -> { }));
            assertEquals(aId, gone.get(WAIT_SECONDS, TimeUnit.SECONDS));
            TestSupport.waitFor("b forgets a", () -> b.peers().isEmpty());
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void builderSettings() throws Exception {
        String key = "11".repeat(32);
        String peerFromKey;
        try (Client a = Client.builder().localOnly(true).protocol("bench-proto", "2.5").maxPeers(7)
                .encryptionKey(key).build()) {
            assertEquals(7, a.maxPeers());
            assertEquals(key, a.encryptionKey());
            assertTrue(a.isEncryptionEnabled());
            peerFromKey = a.peerId();
        }
        try (Client again = Client.builder().localOnly(true).encryptionKey(key).build();
             Client other = TestSupport.local()) {
            assertEquals(peerFromKey, again.peerId(), "the peer id follows from the key");
            assertNotEquals(peerFromKey, other.peerId());
        }

        // Plaintext on both sides.
        try (Client a = Client.builder().localOnly(true).encryption(false).build();
             Client b = Client.builder().localOnly(true).encryption(false).build()) {
            assertFalse(a.isEncryptionEnabled());
            String bId = connect(a, b);
            assertFalse(a.peerInfo(bId).orElseThrow().encrypted());
        }

        // Peers of different protocols do not connect.
        try (Client a = Client.builder().localOnly(true).protocol("one", "1.0").build();
             Client b = Client.builder().localOnly(true).protocol("two", "1.0").build()) {
            assertThrows(ExecutionException.class,
                    () -> a.connect("127.0.0.1", b.listenPort()).get(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }

    @Test
    void aDataDirectoryKeepsTheIdentity() throws Exception {
        Assumptions.assumeTrue(exported(() -> NativeRats.getDataDirectory(0)),
                "librats_jni does not export NativeRats.setDataDirectory/getDataDirectory yet");
        Path dir = tmp.resolve("data");
        String id;
        try (Client a = Client.builder().localOnly(true).dataDirectory(dir).build()) {
            id = a.peerId();
            assertEquals(dir.toAbsolutePath(), a.dataDirectory().orElseThrow());
            assertThrows(RatsException.class, () -> Client.builder().localOnly(true).dataDirectory(dir).build(),
                    "a second client on a locked data directory");
        }
        try (Client b = Client.builder().localOnly(true).dataDirectory(dir).build()) {
            assertEquals(id, b.peerId());
        }
    }

    @Test
    void versions() {
        assertFalse(Client.version().isEmpty());
        assertEquals(4, Client.versionNumbers().length);
        assertTrue(Client.gitDescribe().startsWith("v"));
        assertTrue(Client.abi() >= 1);
        assertDoesNotThrow(() -> Client.setLogLevel("WARN"));
        assertThrows(IllegalArgumentException.class, () -> Client.setLogLevel(""));
    }

    /** Whether calling a native method links (false: UnsatisfiedLinkError). */
    static boolean exported(Runnable call) {
        try {
            call.run();
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }
}
