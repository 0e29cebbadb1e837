package io.rats;

import static io.rats.TestSupport.await;
import static io.rats.TestSupport.connect;
import static io.rats.TestSupport.waitFor;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two clients on 127.0.0.1 exchange text, binary, JSON and typed messages both ways. */
@Timeout(60)
class MessagingTest {

    record Msg(String kind, String peer, Object data) {}

    @Test
    void twoClientsExchangeEveryKindOfMessage() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            assertEquals(64, a.peerId().length());
            assertNotEquals(a.peerId(), b.peerId());
            assertTrue(a.listenPort() > 0);

            LinkedBlockingQueue<Msg> atA = new LinkedBlockingQueue<>();
            LinkedBlockingQueue<Msg> atB = new LinkedBlockingQueue<>();
            Set<String> threads = ConcurrentHashMap.newKeySet();
            Set<Long> threadIds = ConcurrentHashMap.newKeySet();
            for (Object[] pair : new Object[][] {{a, atA}, {b, atB}}) {
                Client c = (Client) pair[0];
                @SuppressWarnings("unchecked")
                LinkedBlockingQueue<Msg> q = (LinkedBlockingQueue<Msg>) pair[1];
                c.onText((p, t) -> {
                    threads.add(Thread.currentThread().getName());
                    threadIds.add(Thread.currentThread().getId());
                    q.add(new Msg("text", p, t));
                })
                 .onBytes((p, d) -> q.add(new Msg("bytes", p, d)))
                 .onJson((p, j) -> q.add(new Msg("json", p, j)))
                 .onMessage("chat", (p, j) -> q.add(new Msg("chat", p, j)))
                 .onPeerConnected(p -> q.add(new Msg("connected", p, null)))
                 .onPeerDisconnected(p -> q.add(new Msg("disconnected", p, null)));
            }

            String bId = connect(a, b);
            assertEquals(b.peerId(), bId);
            assertEquals(List.of(b.peerId()), a.peers());
            assertEquals(List.of(a.peerId()), b.peers());
            assertEquals(1, a.peerCount());

            PeerInfo info = a.peerInfo(bId).orElseThrow();
            assertEquals(bId, info.peerId());
            assertEquals(b.listenPort(), info.port());
            assertTrue(info.outgoing());
            assertTrue(info.encrypted());
            assertEquals("127.0.0.1", info.ip());
            assertFalse(b.peerInfo(a.peerId()).orElseThrow().outgoing());
            Map<String, Object> stats = a.statistics();
            assertEquals(1L, stats.get("total_peers"));
            assertEquals(Boolean.TRUE, stats.get("running"));

            // a -> b, every kind
            String text = "hello b: grüße, 你好, 🐀";
            a.sendText(bId, text);
            byte[] bin = new byte[512];
            for (int i = 0; i < bin.length; i++) {
                bin[i] = (byte) i; // zero bytes and every byte value
            }
            a.sendBytes(bId, bin);
            a.sendJson(bId, "{\"n\": 1, \"s\": \"x\"}");
            a.send(bId, "chat", "{\"text\": \"hi\"}");

            Map<String, Msg> got = receive(atB, 4, "text", "bytes", "json", "chat");
            assertEquals(text, got.get("text").data());
            assertArrayEquals(bin, (byte[]) got.get("bytes").data());
            assertEquals(Map.of("n", 1L, "s", "x"), Json.parse((String) got.get("json").data()));
            assertEquals(Map.of("text", "hi"), Json.parse((String) got.get("chat").data()));
            for (Msg m : got.values()) {
                assertEquals(a.peerId(), m.peer());
            }

            // b -> a, the same, and broadcasts
            String aId = a.peerId();
            b.sendText(aId, "hello a");
            b.sendBytes(aId, new byte[] {0, 0, 1});
            b.sendJson(aId, "[1,2,3]");
            b.send(aId, "chat", "{\"text\": \"hi a\"}");
            Map<String, Msg> back = receive(atA, 4, "text", "bytes", "json", "chat");
            assertEquals("hello a", back.get("text").data());
            assertArrayEquals(new byte[] {0, 0, 1}, (byte[]) back.get("bytes").data());
            assertEquals(List.of(1L, 2L, 3L), Json.parse((String) back.get("json").data()));
            assertEquals(Map.of("text", "hi a"), Json.parse((String) back.get("chat").data()));

            assertEquals(1, b.broadcastText("to all"));
            assertEquals(1, b.broadcastBytes(new byte[] {9}));
            assertEquals(1, b.broadcastJson("{\"all\": true}"));
            b.broadcast("chat", "{\"all\": 1}");
            Map<String, Msg> all = receive(atA, 4, "text", "bytes", "json", "chat");
            assertEquals("to all", all.get("text").data());
            assertArrayEquals(new byte[] {9}, (byte[]) all.get("bytes").data());

            // Every listener ran on its client's callback thread, named rats-cb, not ours.
            assertEquals(2, threadIds.size(), "one callback thread per client: " + threadIds);
            assertEquals(Set.of("rats-cb"), threads);
            assertFalse(threadIds.contains(Thread.currentThread().getId()));

            // Disconnect: both sides see it.
            a.disconnect(bId);
            waitFor("b sees a leave", () -> b.peers().isEmpty());
            waitFor("a forgets b", () -> a.peers().isEmpty());
            assertTrue(drainUntil(atB, "disconnected"), "b's disconnect listener ran");
            RatsException e = assertThrows(RatsException.class, () -> a.sendText(bId, "gone"));
            assertEquals(ErrorKind.PEER_NOT_FOUND, e.kind());
            assertEquals(-5, e.code());
        }
    }

    @Test
    void connectingToAPeerThatDialledUsGivesItsId() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            assertEquals(a.peerId(), connect(b, a));
            assertEquals(b.peerId(), a.connect("127.0.0.1", b.listenPort()).get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS));
            assertEquals(b.peerId(), a.connect("localhost", b.listenPort()).get(TestSupport.WAIT_SECONDS, TimeUnit.SECONDS));
            assertEquals(List.of(b.peerId()), a.peers());
        }
    }

    @Test
    void listenersRunOnTheThreadNamedRatsCb() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            List<String> names = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch got = new CountDownLatch(1);
            b.onText((p, t) -> {
                names.add(Thread.currentThread().getName());
                got.countDown();
            });
            a.sendText(connect(a, b), "which thread?");
            await(got, "the text");
            assertEquals(List.of("rats-cb"), names,
                    "the native side should attach its callback thread to the JVM under the name rats-cb");
        }
    }

    /** Takes messages from q until it has one of each kind (others, like connection events, skipped). */
    private static Map<String, Msg> receive(LinkedBlockingQueue<Msg> q, int n, String... kinds) throws InterruptedException {
        Map<String, Msg> got = new ConcurrentHashMap<>();
        Set<String> wanted = Set.of(kinds);
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(TestSupport.WAIT_SECONDS);
        while (got.size() < n) {
            Msg m = q.poll(Math.max(1, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            if (m == null) {
                throw new AssertionError("timed out; got only " + got.keySet());
            }
            if (wanted.contains(m.kind())) {
                assertFalse(got.containsKey(m.kind()), "a second " + m.kind() + " message");
                got.put(m.kind(), m);
            }
        }
        return got;
    }

    private static boolean drainUntil(LinkedBlockingQueue<Msg> q, String kind) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(TestSupport.WAIT_SECONDS);
        while (System.nanoTime() < end) {
            Msg m = q.poll(100, TimeUnit.MILLISECONDS);
            if (m != null && m.kind().equals(kind)) {
                return true;
            }
        }
        return false;
    }
}
