package io.rats;

import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Throughput of the Java API: two clients in this JVM on 127.0.0.1, {@link Client#sendBytes}
 * counted by the receiver's {@link Client#onBytes} listener. Prints one JSON line per
 * scenario; asserts nothing.
 *
 * <pre>
 * java -cp rats.jar:bench-classes io.rats.Bench [--secs S] [--mib N] [--size BYTES]
 * </pre>
 *
 * <ul>
 * <li>messages: 20,000 warm-up messages, then {@code --size}-byte messages (default 64) for
 *     about {@code --secs} seconds (default 3), timed until the receiver counted every one.</li>
 * <li>throughput: {@code --mib} messages of 1 MiB (default 256), timed from the first send
 *     until the receiver had every byte.</li>
 * </ul>
 */
public final class Bench {
    private Bench() {}

    public static void main(String[] args) throws Exception {
        double secs = 3;
        int mib = 256;
        int size = 64;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--secs" -> secs = Double.parseDouble(args[++i]);
                case "--mib" -> mib = Integer.parseInt(args[++i]);
                case "--size" -> size = Integer.parseInt(args[++i]);
                default -> {
                    System.err.println("usage: io.rats.Bench [--secs S] [--mib N] [--size BYTES]");
                    System.exit(2);
                }
            }
        }
        try (Client a = Client.builder().localOnly(true).build();
             Client b = Client.builder().localOnly(true).build()) {
            AtomicLong messages = new AtomicLong();
            AtomicLong bytes = new AtomicLong();
            b.onBytes((peer, data) -> {
                messages.incrementAndGet();
                bytes.addAndGet(data.length);
            });
            String peer = a.connect("127.0.0.1", b.listenPort()).get(30, TimeUnit.SECONDS);

            // Small messages.
            byte[] small = new byte[size];
            for (int i = 0; i < 20_000; i++) {
                a.sendBytes(peer, small);
            }
            waitFor(messages, 20_000);
            messages.set(0);
            long sent = 0;
            long start = System.nanoTime();
            long until = start + (long) (secs * 1e9);
            while (true) {
                for (int i = 0; i < 1000; i++) {
                    a.sendBytes(peer, small);
                }
                sent += 1000;
                if (System.nanoTime() >= until) {
                    break;
                }
            }
            waitFor(messages, sent);
            double elapsed = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT,
                    "{\"api\":\"java\",\"scenario\":\"messages\",\"size\":%d,\"count\":%d,\"secs\":%.3f,\"msgs_per_s\":%.0f}%n",
                    size, sent, elapsed, sent / elapsed);

            // 1 MiB messages.
            byte[] big = new byte[1 << 20];
            bytes.set(0); // every small message has arrived: nothing is in flight
            for (int i = 0; i < 8; i++) {
                a.sendBytes(peer, big); // warm-up
            }
            waitFor(bytes, 8L * big.length);
            bytes.set(0);
            start = System.nanoTime();
            for (int i = 0; i < mib; i++) {
                a.sendBytes(peer, big);
            }
            waitFor(bytes, (long) mib << 20);
            elapsed = (System.nanoTime() - start) / 1e9;
            System.out.printf(Locale.ROOT,
                    "{\"api\":\"java\",\"scenario\":\"throughput\",\"size\":%d,\"count\":%d,\"secs\":%.3f,\"mib_per_s\":%.1f}%n",
                    big.length, mib, elapsed, mib / elapsed);
        }
    }

    /** Waits until {@code counter} reaches {@code target} (at most a minute). */
    private static void waitFor(AtomicLong counter, long target) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (counter.get() < target) {
            if (System.nanoTime() > end) {
                throw new IllegalStateException("the receiver got " + counter.get() + " of " + target);
            }
            Thread.sleep(0, 200_000);
        }
    }
}
