package io.rats;

import static io.rats.TestSupport.WAIT_SECONDS;
import static io.rats.TestSupport.await;
import static io.rats.TestSupport.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Listeners that call their client, close it, or throw. */
@Timeout(60)
class ReentrancyTest {

    @Test
    void aListenerAnswersThroughItsClient() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            b.onText((peer, text) -> b.sendText(peer, "echo: " + text));
            b.onMessage("ping", (peer, json) -> b.send(peer, "pong", json));
            LinkedBlockingQueue<String> back = new LinkedBlockingQueue<>();
            a.onText((peer, text) -> back.add(text));
            a.onMessage("pong", (peer, json) -> back.add("pong " + json));
            String bId = connect(a, b);
            a.sendText(bId, "one");
            a.send(bId, "ping", "{\"n\":2}");
            assertEquals("echo: one", back.poll(WAIT_SECONDS, TimeUnit.SECONDS));
            assertEquals(java.util.Map.of("n", 2L), Json.parse(back.poll(WAIT_SECONDS, TimeUnit.SECONDS).substring(5)));
        }
    }

    @Test
    void closeFromInsideAListenerDoesNotDeadlock() throws Exception {
        Client a = TestSupport.local();
        Client b = TestSupport.local();
        try {
            AtomicInteger calls = new AtomicInteger();
            CompletableFuture<Throwable> closed = new CompletableFuture<>();
            b.onText((peer, text) -> {
                calls.incrementAndGet();
                try {
                    b.close();
                    // The client is closed, the listener still runs to its end.
                    assertTrue(b.isClosed());
                    assertThrows(IllegalStateException.class, () -> b.sendText(peer, "too late"));
                    closed.complete(null);
                } catch (Throwable t) {
                    closed.complete(t);
                }
            });
            CompletableFuture<String> gone = new CompletableFuture<>();
            a.onPeerDisconnected(gone::complete);
            String bId = connect(a, b);
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                a.sendText(bId, "close yourself");
                assertNull(closed.get(WAIT_SECONDS, TimeUnit.SECONDS), "close() inside the listener");
                assertEquals(bId, gone.get(WAIT_SECONDS, TimeUnit.SECONDS), "a sees b go");
            });
            Thread.sleep(200);
            assertEquals(1, calls.get(), "no listener of a closed client runs");
            b.close(); // again, from here: nothing happens
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void closeFromAnotherThreadWaitsForTheRunningListenerWithoutDeadlock() throws Exception {
        Client a = TestSupport.local();
        Client b = TestSupport.local();
        try {
            CountDownLatch inListener = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            AtomicReference<String> peers = new AtomicReference<>();
            b.onText((peer, text) -> {
                inListener.countDown();
                try {
                    release.await(WAIT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                // Calls into the client while another thread is closing it: either works or
                // says the client is closed; never hangs.
                try {
                    peers.set(String.valueOf(b.peers()));
                } catch (IllegalStateException closedAlready) {
                    peers.set("closed");
                }
            });
            String bId = connect(a, b);
            a.sendText(bId, "hold on");
            await(inListener, "the listener");
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                Thread closer = new Thread(b::close, "closer");
                closer.start();
                Thread.sleep(200);
                release.countDown();
                closer.join(TimeUnit.SECONDS.toMillis(WAIT_SECONDS));
                assertTrue(!closer.isAlive(), "close() returned");
            });
            assertTrue(b.isClosed());
            assertTrue(peers.get() != null);
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void listenerExceptionsGoToTheErrorHandlerAndTheClientCarriesOn() throws Exception {
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            LinkedBlockingQueue<String> errors = new LinkedBlockingQueue<>();
            AtomicReference<Throwable> error = new AtomicReference<>();
            b.onListenerError((where, t) -> {
                error.set(t);
                errors.add(where + " on " + Thread.currentThread().getName());
            });
            LinkedBlockingQueue<String> texts = new LinkedBlockingQueue<>();
            b.onText((peer, text) -> {
                if (text.equals("throw")) {
                    throw new IllegalArgumentException("listener failure");
                }
                texts.add(text);
            });
            b.onBytes((peer, data) -> {
                throw new OutOfMemoryError("pretend");
            });
            b.onMessage("t", (peer, json) -> {
                throw new RuntimeException("typed");
            });
            String bId = connect(a, b);
            a.sendText(bId, "throw");
            a.sendBytes(bId, new byte[] {1});
            a.send(bId, "t", "{}");
            a.sendText(bId, "still here");
            assertEquals("still here", texts.poll(WAIT_SECONDS, TimeUnit.SECONDS));
            String first = errors.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            assertTrue(first != null && first.startsWith("text on "), first);
            assertTrue(errors.poll(WAIT_SECONDS, TimeUnit.SECONDS).startsWith("bytes on "));
            assertTrue(errors.poll(WAIT_SECONDS, TimeUnit.SECONDS).startsWith("message t on "));
            assertInstanceOf(RuntimeException.class, error.get());

            // An error handler that throws, then none at all (System.Logger): still no harm.
            b.onListenerError((w, t) -> {
                throw new IllegalStateException("handler fails too");
            });
            a.sendText(bId, "throw");
            b.onListenerError(null);
            a.sendText(bId, "throw");
            a.sendText(bId, "after");
            assertEquals("after", texts.poll(WAIT_SECONDS, TimeUnit.SECONDS));
        }
    }
}
