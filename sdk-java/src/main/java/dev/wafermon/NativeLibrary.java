package dev.wafermon;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Finds and loads the JNI library {@code libwafermon-jni-<version>.so} (it carries the whole C
 * core), the way zstd-jni does:
 *
 * <ol>
 *   <li>the system property {@code wafermon.native.path}, a file path, when set;
 *   <li>{@code System.loadLibrary("wafermon-jni-<version>")} from {@code java.library.path};
 *   <li>the copy inside the jar, {@code /<os>-<arch>/libwafermon-jni-<version>.so}, extracted to a
 *       temporary file (unlinked once loaded).
 * </ol>
 *
 * The version in the file name keeps two SDK versions in one JVM host from colliding.
 */
final class NativeLibrary {
    /** The SDK version, which is also the native library's version. */
    static final String VERSION = Version.SDK;
    static final String PROPERTY = "wafermon.native.path";

    private static volatile boolean loaded;
    /** How the library was found, for diagnostics and tests. */
    private static String source = "not loaded";

    static {
        // Any use of this class's natives needs the library, whoever comes first.
        load();
    }

    private NativeLibrary() {}

    static void load() {
        if (loaded) {
            return;
        }
        synchronized (NativeLibrary.class) {
            if (!loaded) {
                doLoad();
                loaded = true;
            }
        }
    }

    static String platform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String osPart = os.startsWith("linux") ? "linux" : os.replaceAll("[^a-z0-9]+", "");
        String archPart = arch.equals("amd64") || arch.equals("x86_64") ? "x86_64" : arch;
        return osPart + "-" + archPart;
    }

    static String fileName() {
        return "libwafermon-jni-" + VERSION + ".so";
    }

    private static void doLoad() {
        List<String> tried = new ArrayList<>();
        String override = System.getProperty(PROPERTY);
        if (override != null && !override.isEmpty()) {
            // An explicit path is a promise: do not fall back to another copy behind its back.
            System.load(Path.of(override).toAbsolutePath().toString());
            source = "property " + PROPERTY + ": " + override;
            return;
        }
        try {
            System.loadLibrary("wafermon-jni-" + VERSION);
            source = "java.library.path";
            return;
        } catch (UnsatisfiedLinkError e) {
            tried.add("java.library.path: " + e.getMessage());
        }
        String resource = "/" + platform() + "/" + fileName();
        try (InputStream in = NativeLibrary.class.getResourceAsStream(resource)) {
            if (in == null) {
                tried.add("jar resource " + resource + ": not found (platform " + platform()
                        + " is not in this jar, or the jar was built without scripts/build.sh)");
            } else {
                Path tmp = Files.createTempFile("libwafermon-jni-" + VERSION + "-", ".so");
                try {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    System.load(tmp.toAbsolutePath().toString());
                    source = "jar resource " + resource;
                    return;
                } finally {
                    // Loaded libraries stay mapped; the file itself is no longer needed.
                    Files.deleteIfExists(tmp);
                }
            }
        } catch (java.io.IOException | UnsatisfiedLinkError e) {
            tried.add("jar resource " + resource + ": " + e);
        }
        throw new UnsatisfiedLinkError("wafermon: cannot load the native library " + fileName()
                + "; tried " + String.join("; ", tried) + ". Set -D" + PROPERTY
                + "=/path/to/" + fileName() + " to choose the file.");
    }

    static synchronized String source() {
        return source;
    }

    /** wm_last_error() of this thread, decoded leniently (the C side may cut a UTF-8 sequence). */
    static String lastErrorText() {
        byte[] bytes = lastError();
        return bytes == null ? "" : new String(bytes, StandardCharsets.UTF_8);
    }

    static List<StatusDesc> statusDescs() {
        String[] flat = statusTable();
        List<StatusDesc> out = new ArrayList<>(flat.length / 4);
        for (int i = 0; i + 3 < flat.length; i += 4) {
            out.add(new StatusDesc(Integer.parseInt(flat[i]), flat[i + 1], flat[i + 2], flat[i + 3]));
        }
        return out;
    }

    static String version() {
        return versionString();
    }

    static int versionNum() {
        return versionNumber();
    }

    static String statusName(int status) {
        return statusNameNative(status);
    }

    static String statName(int stat) {
        return statNameNative(stat);
    }

    private static native String versionString();

    private static native int versionNumber();

    private static native byte[] lastError();

    private static native String[] statusTable();

    private static native String statusNameNative(int status);

    private static native String statNameNative(int stat);
}
