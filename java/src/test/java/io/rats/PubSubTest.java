package io.rats;

import static io.rats.TestSupport.connect;
import static io.rats.TestSupport.waitFor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Publish/subscribe among three clients linked A-B-C (C hears A through B). */
@Timeout(60)
class PubSubTest {

    @Test
    void threeClientsPublishAndSubscribe() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local(); Client c = TestSupport.local()) {
            connect(a, b);
            connect(c, b);
            Map<String, List<String>> got = new ConcurrentHashMap<>();
            Map<String, Set<String>> origins = new ConcurrentHashMap<>();
            for (Client x : List.of(a, b, c)) {
                String me = x.peerId();
                got.put(me, new CopyOnWriteArrayList<>());
                origins.put(me, ConcurrentHashMap.newKeySet());
                x.subscribe("news", (origin, message) -> {
                    got.get(me).add(message);
                    origins.get(me).add(origin);
                });
            }
            assertEquals(Set.of("news"), a.subscriptions());
            waitFor("B sees A and C on the topic",
                    () -> b.topicPeers("news").containsAll(List.of(a.peerId(), c.peerId())));
            waitFor("A and C see B on the topic",
                    () -> a.topicPeers("news").contains(b.peerId()) && c.topicPeers("news").contains(b.peerId()));

            // The mesh forms on GossipSub's heartbeat: publish until C has one of A's messages.
            int n = 0;
            long end = System.nanoTime() + 20_000_000_000L;
            while (got.get(c.peerId()).isEmpty()) {
                if (System.nanoTime() > end) {
                    throw new AssertionError("C never heard A; B got " + got.get(b.peerId()));
                }
                a.publish("news", "warm-up " + n++);
                Thread.sleep(200);
            }
            a.publish("news", "from A");
            c.publishJson("news", "{\"from\": \"C\"}");
            waitFor("everyone's messages", () -> got.get(b.peerId()).contains("from A")
                    && got.get(c.peerId()).contains("from A")
                    && got.get(a.peerId()).stream().anyMatch(m -> m.contains("\"C\""))
                    && got.get(b.peerId()).stream().anyMatch(m -> m.contains("\"C\"")));
            Thread.sleep(300);
            for (Client x : List.of(b, c)) {
                assertEquals(1, got.get(x.peerId()).stream().filter("from A"::equals).count(), "delivered once");
            }
            assertTrue(got.get(a.peerId()).stream().noneMatch(m -> m.startsWith("warm-up") || m.equals("from A")),
                    "a publisher does not hear itself");
            assertEquals(Set.of(a.peerId()), Set.copyOf(subtract(origins.get(c.peerId()), Set.of(c.peerId()))),
                    "C sees A as the origin, not B");
            assertEquals(Map.of("from", "C"), Json.parse(got.get(a.peerId()).stream()
                    .filter(m -> m.contains("\"C\"")).findFirst().orElseThrow()));

            // C leaves: B stops listing it, C hears nothing more.
            c.unsubscribe("news");
            assertEquals(Set.of(), c.subscriptions());
            waitFor("B sees C leave", () -> !b.topicPeers("news").contains(c.peerId()));
            int before = got.get(c.peerId()).size();
            a.publish("news", "after C left");
            waitFor("B hears the last one", () -> got.get(b.peerId()).contains("after C left"));
            Thread.sleep(300);
            assertEquals(before, got.get(c.peerId()).size());

            // Errors.
            RatsException e = assertThrows(RatsException.class, () -> a.publishJson("news", "{not json"));
            assertEquals(ErrorKind.JSON_PARSE, e.kind());
            assertThrows(IllegalArgumentException.class, () -> a.publish("", "x"));
            assertThrows(IllegalArgumentException.class, () -> a.publish("t".repeat(257), "x"));
            assertThrows(NullPointerException.class, () -> a.subscribe("news", null));
            assertThrows(NullPointerException.class, () -> a.publish(null, "x"));
        }
    }

    private static Set<String> subtract(Set<String> a, Set<String> b) {
        Set<String> r = ConcurrentHashMap.newKeySet();
        r.addAll(a);
        r.removeAll(b);
        return r;
    }
}
