package io.rats.jni;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;

/**
 * Loads {@code librats_jni}: first from {@code java.library.path}
 * ({@code System.loadLibrary("rats_jni")}, what Android and installed setups use), else
 * from the jar ({@code /native/<os>-<arch>/<library file>}, extracted to a temporary file).
 * The error says where it looked.
 */
final class NativeLoader {
    private NativeLoader() {}

    private static boolean loaded;

    static synchronized void load() {
        if (loaded) {
            return;
        }
        UnsatisfiedLinkError fromPath;
        try {
            System.loadLibrary("rats_jni");
            loaded = true;
            return;
        } catch (UnsatisfiedLinkError e) {
            fromPath = e;
        }
        String file = System.mapLibraryName("rats_jni");
        String resource = "/native/" + platform() + "/" + file;
        try (InputStream in = NativeLoader.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new UnsatisfiedLinkError("rats: native library not found: " + file
                        + " is not on java.library.path (" + System.getProperty("java.library.path")
                        + ": " + fromPath.getMessage() + ") and the jar has no " + resource);
            }
            Path tmp = Files.createTempFile("rats_jni", file);
            tmp.toFile().deleteOnExit();
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            System.load(tmp.toAbsolutePath().toString());
            loaded = true;
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("rats: could not extract " + resource + ": " + e);
        }
    }

    /** {@code linux-x86_64}, {@code linux-aarch64}, {@code macos-aarch64}, ... */
    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("mac") ? "macos" : os.contains("win") ? "windows" : "linux";
        String a = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64"
                : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
        return o + "-" + a;
    }
}
