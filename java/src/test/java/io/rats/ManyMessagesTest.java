package io.rats;

import static io.rats.TestSupport.connect;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;

/**
 * 100,000 messages through listeners (50,000 text, 50,000 binary), all received in order: a
 * native side that leaked a JNI local reference per callback would overflow the callback
 * thread's local reference table long before the end.
 */
class ManyMessagesTest {
    static final int EACH = 50_000;

    @Test
    void aHundredThousandMessagesArriveInOrder() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
                AtomicInteger nextText = new AtomicInteger();
                AtomicInteger nextBinary = new AtomicInteger();
                AtomicReference<String> error = new AtomicReference<>();
                CountDownLatch done = new CountDownLatch(2);
                b.onText((peer, text) -> {
                    int expected = nextText.getAndIncrement();
                    if (!text.equals("m" + expected) && error.get() == null) {
                        error.set("text " + expected + " was \"" + text + "\"");
                    }
                    if (expected + 1 == EACH) {
                        done.countDown();
                    }
                });
                b.onBytes((peer, data) -> {
                    int expected = nextBinary.getAndIncrement();
                    int got = data.length == 8 ? ByteBuffer.wrap(data).getInt(4) : -1;
                    if (got != expected && error.get() == null) {
                        error.set("binary " + expected + " was " + got);
                    }
                    if (expected + 1 == EACH) {
                        done.countDown();
                    }
                });
                String bId = connect(a, b);
                ByteBuffer buf = ByteBuffer.allocate(8);
                for (int i = 0; i < EACH; i++) {
                    a.sendText(bId, "m" + i);
                    buf.clear();
                    buf.putInt(0xcafe).putInt(i);
                    a.sendBytes(bId, buf.array());
                }
                assertTrue(done.await(50, TimeUnit.SECONDS),
                        "received " + nextText.get() + " texts and " + nextBinary.get() + " binaries of " + EACH + " each");
                assertEquals(null, error.get());
                Thread.sleep(100);
                assertEquals(EACH, nextText.get());
                assertEquals(EACH, nextBinary.get());
            }
        });
    }
}
