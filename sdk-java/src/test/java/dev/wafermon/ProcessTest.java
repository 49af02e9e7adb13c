package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library loading and process exit, in child JVMs. */
class ProcessTest {
    @TempDir Path dir;

    record Result(int exit, String out) {}

    static Result java(List<String> jvmArgs, String... args) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmArgs);
        cmd.add("-Dwafermon.test.schema=" + System.getProperty("wafermon.test.schema"));
        cmd.add("-Dwafermon.test.version=" + System.getProperty("wafermon.test.version"));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ChildMain.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("WAFERMON_CONFIG");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Result(p.exitValue(), out);
    }

    /** java(...) that also fails when the child takes more than limitSeconds. */
    static Result javaWithin(double limitSeconds, String... args) throws Exception {
        long began = System.nanoTime();
        Result r = java(List.of(), args);
        double took = (System.nanoTime() - began) / 1e9;
        System.out.printf("child JVM %s took %.2fs%n", args[0], took);
        assertTrue(took < limitSeconds, args[0] + " took " + took + "s, bound " + limitSeconds + "s");
        return r;
    }

    @Test
    void thisJvmLoadedTheCopyInsideTheJarResources() {
        Wafermon.nativeVersion();
        assertEquals("jar resource /linux-x86_64/libwafermon-jni-" + Wafermon.version() + ".so",
                NativeLibrary.source());
    }

    @Test
    void systemPropertyOverridesThePath() throws Exception {
        // The same library, copied elsewhere under another name.
        Path copy = dir.resolve("custom-name.so");
        try (var in = NativeLibrary.class.getResourceAsStream(
                "/linux-x86_64/" + NativeLibrary.fileName())) {
            Files.copy(in, copy);
        }
        Result r = java(List.of("-Dwafermon.native.path=" + copy), "version");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains(Wafermon.version() + " property wafermon.native.path: " + copy),
                r.out());
    }

    @Test
    void aWrongOverrideFailsLoudly() throws Exception {
        Result r = java(List.of("-Dwafermon.native.path=" + dir.resolve("missing.so")), "version");
        assertTrue(r.exit() != 0);
        assertTrue(r.out().contains("UnsatisfiedLinkError"), r.out());
    }

    @Test
    void javaLibraryPathIsTriedBeforeTheJar() throws Exception {
        Path libdir = Files.createDirectories(dir.resolve("lib"));
        try (var in = NativeLibrary.class.getResourceAsStream(
                "/linux-x86_64/" + NativeLibrary.fileName())) {
            Files.copy(in, libdir.resolve(NativeLibrary.fileName()));
        }
        Result r = java(List.of("-Djava.library.path=" + libdir), "version");
        assertEquals(0, r.exit(), r.out());
        assertTrue(r.out().contains("java.library.path"), r.out());
    }

    static List<JsonNode> read(Path dir) throws Exception {
        return Fixtures.events(dir);
    }

    @Test
    void eventsQueuedAtExitAreDeliveredByTheExitHandler() throws Exception {
        Result r = java(List.of(), "exit-without-close", dir.toString());
        assertEquals(0, r.exit(), r.out());
        List<JsonNode> es = read(dir);
        assertEquals(List.of("started", "progress", "finished"),
                es.stream().map(e -> e.get("event_kind").asText()).collect(Collectors.toList()));
        assertEquals("child", es.get(1).get("metadata").get("from").asText());
    }

    /**
     * A sidecar that accepts connections and never answers (a listener nobody accepts from): the
     * JVM is gone within exit_flush_timeout (0.5 s) + 0.5 s, plus the JVM's own start and a loaded
     * machine's slack; before the fix it took 4 x 30 s. Every event is on the spool afterwards.
     */
    @Test
    void exitWithAHungSidecarIsBoundedAndSpoolsEverything() throws Exception {
        try (ServerSocket hole = new ServerSocket(0, 64, InetAddress.getLoopbackAddress())) {
            String url = "http://127.0.0.1:" + hole.getLocalPort();
            Result r = javaWithin(0.5 + 6.0, "exit-hung-sidecar", url, dir.toString());
            assertEquals(0, r.exit(), r.out());
            hole.close(); // now refused: the next client keeps the spool as it is
            try (Client client = Client.open(ChildMain.hungSidecarConfig(url, dir))) {
                assertEquals(40, client.stat(Stat.SPOOL_PENDING));
            }
        }
    }

    @Test
    void aLeakedJobIsCancelledByTheCleaner() throws Exception {
        Result r = java(List.of(), "leak-job", dir.toString());
        assertEquals(0, r.exit(), r.out());
        List<JsonNode> es = read(dir);
        assertEquals(3, es.size(), es.toString());
        JsonNode fin = es.get(2);
        assertEquals("cancelled", fin.get("status").asText());
        assertEquals("handle destroyed while running",
                fin.get("metadata").get("wafermon.reason").asText());
    }
}
