package io.rats;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/** Helpers for the tests: local-only clients, bounded waits. */
final class TestSupport {
    /** The longest any single wait of a test may take. */
    static final long WAIT_SECONDS = 20;

    private TestSupport() {}

    /** A started client that stays on loopback. */
    static Client local() {
        return Client.builder().localOnly(true).build();
    }

    /** Connects {@code from} to {@code to} on 127.0.0.1; returns {@code to}'s id. */
    static String connect(Client from, Client to) throws Exception {
        String id = from.connect("127.0.0.1", to.listenPort()).get(WAIT_SECONDS, TimeUnit.SECONDS);
        waitFor("the other side sees the connection", () -> to.peers().contains(from.peerId()));
        return id;
    }

    static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertTrue(latch.await(WAIT_SECONDS, TimeUnit.SECONDS),
                "timed out waiting for " + what + " (" + latch.getCount() + " left)");
    }

    static void waitFor(String what, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
