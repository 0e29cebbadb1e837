package io.rats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A JVM whose main returns with clients open (and messages flowing) exits cleanly. */
@Timeout(60)
class JvmExitTest {
    @TempDir
    Path tmp;

    @Test
    void theJvmExitsWithClientsStillOpen() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classPath = location(Client.class) + File.pathSeparator + location(ExitWithOpenClients.class);
        List<String> cmd = new ArrayList<>(List.of(java, "-Xcheck:jni"));
        String libPath = System.getProperty("java.library.path");
        if (libPath != null) {
            cmd.add("-Djava.library.path=" + libPath);
        }
        cmd.addAll(List.of("-cp", classPath, ExitWithOpenClients.class.getName()));
        Path out = tmp.resolve("out.txt");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        boolean exited = p.waitFor(45, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
        String output = Files.readString(out, StandardCharsets.UTF_8);
        assertTrue(exited, "the child JVM did not exit; output:\n" + output);
        assertEquals(0, p.exitValue(), "exit code; output:\n" + output);
        assertTrue(output.lines().anyMatch("ok"::equals), "output:\n" + output);
        assertTrue(!output.contains("A fatal error has been detected"), output);
    }

    private static String location(Class<?> c) throws Exception {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    }
}
