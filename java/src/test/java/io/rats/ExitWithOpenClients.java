package io.rats;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Run in a child JVM by {@link JvmExitTest}: opens two clients, connects them, keeps messages
 * flowing from a daemon thread, prints "ok" and returns without closing anything.
 */
public final class ExitWithOpenClients {
    private ExitWithOpenClients() {}

    public static void main(String[] args) throws Exception {
        Client a = Client.builder().localOnly(true).build();
        Client b = Client.builder().localOnly(true).build();
        AtomicLong received = new AtomicLong();
        b.onText((peer, text) -> received.incrementAndGet());
        b.onBytes((peer, data) -> received.incrementAndGet());
        String bId = a.connect("127.0.0.1", b.listenPort()).get(20, TimeUnit.SECONDS);
        a.sendText(bId, "hello");
        Thread sender = new Thread(() -> {
            try {
                while (true) {
                    a.sendText(bId, "still running");
                    a.sendBytes(bId, new byte[64]);
                }
            } catch (RuntimeException stop) {
                // the JVM is going away
            }
        }, "sender");
        sender.setDaemon(true);
        sender.start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (received.get() < 1000 && System.nanoTime() < end) {
            Thread.sleep(10);
        }
        System.out.println(received.get() >= 1000 ? "ok" : "only " + received.get() + " messages");
        System.out.flush();
        // main returns; the clients stay open, callbacks keep coming while the JVM exits
    }
}
