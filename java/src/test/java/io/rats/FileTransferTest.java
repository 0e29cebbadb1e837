package io.rats;

import static io.rats.TestSupport.WAIT_SECONDS;
import static io.rats.TestSupport.await;
import static io.rats.TestSupport.connect;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Files and directories between two clients, with progress, checked by SHA-256. */
@Timeout(60)
class FileTransferTest {
    @TempDir
    Path tmp;

    @Test
    void aFileArrivesWithProgressAndTheSameSha256() throws Exception {
        Path src = tmp.resolve("source.bin");
        writeRandom(src, 3 * 1024 * 1024 + 17, 1);
        Path dest = tmp.resolve("in").resolve("received.bin");
        Files.createDirectories(dest.getParent());

        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            List<FileOffer> offers = Collections.synchronizedList(new ArrayList<>());
            CompletableFuture<Transfer> incoming = new CompletableFuture<>();
            List<TransferProgress> receiverProgress = Collections.synchronizedList(new ArrayList<>());
            b.onFileOffer(offer -> {
                offers.add(offer);
                return dest;
            }).onIncomingTransfer(incoming::complete).onTransferProgress(receiverProgress::add);

            String bId = connect(a, b);
            List<TransferProgress> progress = Collections.synchronizedList(new ArrayList<>());
            Transfer sent = a.sendFile(bId, src, progress::add);
            assertEquals(32, sent.id().length());
            assertEquals(Transfer.Direction.SENDING, sent.direction());
            assertEquals(bId, sent.peerId());

            TransferResult result = sent.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertEquals(TransferStatus.COMPLETED, result.status());
            assertTrue(result.isSuccess());
            assertEquals(src, result.path());

            Transfer received = incoming.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertEquals(sent.id(), received.id());
            assertEquals(Transfer.Direction.RECEIVING, received.direction());
            assertEquals(a.peerId(), received.peerId());
            TransferResult got = received.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertEquals(TransferStatus.COMPLETED, got.status());
            assertEquals(dest, got.path());

            assertEquals(1, offers.size());
            FileOffer offer = offers.get(0);
            assertEquals(a.peerId(), offer.peerId());
            assertEquals(sent.id(), offer.transferId());
            assertEquals("source.bin", offer.name());
            assertFalse(offer.directory());

            assertEquals(Files.size(src), Files.size(dest));
            assertArrayEquals(sha256(src), sha256(dest), "SHA-256 of the received file");

            synchronized (progress) {
                assertFalse(progress.isEmpty(), "progress reports at the sender");
                TransferProgress last = progress.get(progress.size() - 1);
                assertEquals(TransferStatus.COMPLETED, last.status());
                assertEquals(100, last.percent());
                for (TransferProgress p : progress) {
                    assertEquals(sent.id(), p.transferId());
                    assertTrue(p.percent() >= 0 && p.percent() <= 100);
                }
            }
            assertTrue(receiverProgress.stream().anyMatch(p -> p.status() == TransferStatus.COMPLETED));
            assertTrue(a.transfers().isEmpty(), "finished transfers are forgotten");
            assertTrue(a.transfer(sent.id()).isEmpty());
        }
    }

    @Test
    void refusedAndFailingOffersEndAsFailed() throws Exception {
        Path src = tmp.resolve("small.txt");
        Files.writeString(src, "not wanted");
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            String bId = connect(a, b);

            // No offer handler: refused.
            assertEquals(TransferStatus.FAILED, a.sendFile(bId, src).result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());

            // The handler says no.
            b.onFileOffer(offer -> null);
            assertEquals(TransferStatus.FAILED, a.sendFile(bId, src).result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());

            // The handler throws: refused, and the error handler hears of it.
            AtomicReference<String> where = new AtomicReference<>();
            AtomicReference<Throwable> what = new AtomicReference<>();
            CountDownLatch reported = new CountDownLatch(1);
            b.onListenerError((w, t) -> {
                where.set(w);
                what.set(t);
                reported.countDown();
            });
            b.onFileOffer(offer -> {
                throw new IllegalStateException("boom");
            });
            assertEquals(TransferStatus.FAILED, a.sendFile(bId, src).result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());
            await(reported, "the error handler");
            assertEquals("file offer", where.get());
            assertInstanceOf(IllegalStateException.class, what.get());
            assertFalse(Files.exists(tmp.resolve("not-wanted")));
        }
    }

    @Test
    void aDirectoryTreeArrivesWhole() throws Exception {
        Path src = tmp.resolve("tree");
        Files.createDirectories(src.resolve("sub/deeper"));
        writeRandom(src.resolve("one.bin"), 100_000, 2);
        writeRandom(src.resolve("sub/two.bin"), 5_000, 3);
        Files.write(src.resolve("sub/deeper/empty"), new byte[0]);
        Path dest = tmp.resolve("copy");

        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            CompletableFuture<FileOffer> offered = new CompletableFuture<>();
            CompletableFuture<Transfer> incoming = new CompletableFuture<>();
            b.onFileOffer(offer -> {
                offered.complete(offer);
                return dest;
            }).onIncomingTransfer(incoming::complete);
            String bId = connect(a, b);
            Transfer t = a.sendDirectory(bId, src);
            assertTrue(t.isDirectory());
            assertEquals(TransferStatus.COMPLETED, t.result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());
            assertEquals(TransferStatus.COMPLETED, incoming.get(WAIT_SECONDS, TimeUnit.SECONDS)
                    .result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());
            FileOffer offer = offered.get(1, TimeUnit.SECONDS);
            assertTrue(offer.directory());
            assertEquals("tree", offer.name());
            for (String f : List.of("one.bin", "sub/two.bin", "sub/deeper/empty")) {
                assertArrayEquals(sha256(src.resolve(f)), sha256(dest.resolve(f)), f);
            }
        }
    }

    @Test
    void aTransferPausedFromItsProgressListenerResumes() throws Exception {
        Path src = tmp.resolve("big.bin");
        writeRandom(src, 24 * 1024 * 1024, 4);
        Path dest = tmp.resolve("big-copy.bin");
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            b.onFileOffer(offer -> dest);
            String bId = connect(a, b);
            CountDownLatch paused = new CountDownLatch(1);
            AtomicReference<Throwable> pauseError = new AtomicReference<>();
            List<TransferStatus> seen = Collections.synchronizedList(new ArrayList<>());
            Transfer t = a.sendFile(bId, src, p -> {
                seen.add(p.status());
                if (p.status() == TransferStatus.PAUSED) {
                    paused.countDown();
                } else if (p.status() == TransferStatus.STARTING) {
                    // Pause from the callback thread, before any data moved (on loopback a
                    // 24 MiB file is done before the first IN_PROGRESS report).
                    try {
                        a.transfer(p.transferId()).orElseThrow().pause();
                    } catch (Throwable e) {
                        pauseError.set(e);
                        paused.countDown();
                    }
                }
            });
            await(paused, "PAUSED");
            if (pauseError.get() != null) {
                throw new AssertionError("pause from the progress listener failed; statuses " + seen, pauseError.get());
            }
            assertFalse(t.isDone());
            assertEquals(TransferStatus.PAUSED, t.lastProgress().orElseThrow().status());
            t.resume();
            TransferResult r = t.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertEquals(TransferStatus.COMPLETED, r.status(), "statuses " + seen);
            assertArrayEquals(sha256(src), sha256(dest));
            assertTrue(seen.contains(TransferStatus.RESUMING), "statuses " + seen);
        }
    }

    @Test
    void aFileIsPulledFromThePeersSharedRootAndNothingOutsideIt() throws Exception {
        Path share = Files.createDirectories(tmp.resolve("share"));
        writeRandom(share.resolve("pulled.bin"), 70_000, 6);
        writeRandom(tmp.resolve("secret.bin"), 10, 7);
        String sharing = "{\"transfer\": {\"shared_root\": " + Json.quote(share.toString()) + "}}";
        try (Client a = TestSupport.local();
             Client b = Client.builder().localOnly(true).config(sharing).build()) {
            String bId = connect(a, b);
            Path dest = tmp.resolve("pulled-here.bin");
            Transfer t = a.requestFile(bId, "pulled.bin", dest, null);
            assertEquals(Transfer.Direction.RECEIVING, t.direction());
            assertEquals(TransferStatus.COMPLETED, t.result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());
            assertArrayEquals(sha256(share.resolve("pulled.bin")), sha256(dest));

            Path never = tmp.resolve("never.bin");
            try {
                Transfer outside = a.requestFile(bId, "../secret.bin", never, null);
                assertEquals(TransferStatus.FAILED, outside.result().get(WAIT_SECONDS, TimeUnit.SECONDS).status());
            } catch (RatsException refusedAtOnce) {
                assertEquals(ErrorKind.OPERATION_FAILED, refusedAtOnce.kind());
            }
            assertFalse(Files.exists(never));
        }
    }

    @Test
    void theReceiverCancels() throws Exception {
        Path src = tmp.resolve("cancel.bin");
        writeRandom(src, 32 * 1024 * 1024, 8);
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            // Cancel at the receiver's first report, before the data is through.
            b.onFileOffer(offer -> tmp.resolve("cancelled.bin"));
            b.onTransferProgress(p -> {
                if (p.status() == TransferStatus.STARTING) {
                    b.transfer(p.transferId()).ifPresent(Transfer::cancel);
                }
            });
            String bId = connect(a, b);
            Transfer t = a.sendFile(bId, src);
            TransferStatus end = t.result().get(WAIT_SECONDS, TimeUnit.SECONDS).status();
            assertTrue(end == TransferStatus.CANCELLED || end == TransferStatus.FAILED, "ended " + end);
            RatsException e = assertThrows(RatsException.class, t::cancel, "a finished transfer");
            assertEquals(ErrorKind.OPERATION_FAILED, e.kind());
        }
    }

    @Test
    @SuppressWarnings("try")
    void badArgumentsAndClosedClients() throws Exception {
        Path missing = tmp.resolve("missing");
        try (Client a = TestSupport.local(); Client b = TestSupport.local()) {
            String bId = connect(a, b);
            assertThrows(IllegalArgumentException.class, () -> a.sendFile(bId, missing));
            assertThrows(IllegalArgumentException.class, () -> a.sendFile(bId, tmp)); // a directory
            assertThrows(IllegalArgumentException.class, () -> a.sendDirectory(bId, missing));
            assertThrows(NullPointerException.class, () -> a.sendFile(bId, null));
            Path f = tmp.resolve("f");
            Files.writeString(f, "x");
            assertThrows(IllegalArgumentException.class, () -> a.sendFile("nope", f));
            RatsException e = assertThrows(RatsException.class, () -> a.sendFile("ab".repeat(32), f));
            assertEquals(ErrorKind.PEER_NOT_FOUND, e.kind());

            // A transfer open when its client closes fails with NOT_RUNNING.
            Transfer pending = a.sendFile(bId, f); // b has no offer handler yet... it refuses, or we close first
            a.close();
            try {
                TransferResult r = pending.result().get(WAIT_SECONDS, TimeUnit.SECONDS);
                assertEquals(TransferStatus.FAILED, r.status());
            } catch (java.util.concurrent.ExecutionException x) {
                RatsException re = assertInstanceOf(RatsException.class, x.getCause());
                assertEquals(ErrorKind.NOT_RUNNING, re.kind());
            }
            assertThrows(IllegalStateException.class, () -> a.sendFile(bId, f));
            assertThrows(IllegalStateException.class, pending::cancel);
        }
    }

    static void writeRandom(Path p, int size, long seed) throws IOException {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        Files.write(p, data);
    }

    static byte[] sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return md.digest();
    }
}
