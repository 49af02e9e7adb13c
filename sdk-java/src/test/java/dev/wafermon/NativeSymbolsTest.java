package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The JNI library exports the JNI entry points only (bindings/java/exports.map). */
class NativeSymbolsTest {
    @Test
    void onlyJavaSymbolsAreExported() throws Exception {
        Path lib = Path.of("target/classes/linux-x86_64/" + NativeLibrary.fileName());
        assumeTrue(Files.exists(lib), "the library is in target/classes");
        Process p;
        try {
            p = new ProcessBuilder("nm", "-D", "--defined-only", lib.toString()).start();
        } catch (java.io.IOException noNm) {
            assumeTrue(false, "nm (binutils) is not installed");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue());
        List<String> exported = new ArrayList<>();
        List<String> leaked = new ArrayList<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length < 3) {
                continue;
            }
            (f[2].startsWith("Java_dev_wafermon_") ? exported : leaked).add(f[2]);
        }
        assertTrue(leaked.isEmpty(), "not exported: " + leaked);
        // One symbol per native method of the SDK, and nothing else.
        java.util.TreeSet<String> declared = new java.util.TreeSet<>();
        for (Class<?> c : List.of(NativeLibrary.class, Client.class, Job.class)) {
            for (java.lang.reflect.Method m : c.getDeclaredMethods()) {
                if (java.lang.reflect.Modifier.isNative(m.getModifiers())) {
                    declared.add("Java_dev_wafermon_" + c.getSimpleName() + "_" + m.getName());
                }
            }
        }
        assertEquals(declared, new java.util.TreeSet<>(exported));
    }
}
