package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The Java exceptions are the C status table, row by row. */
class StatusTableTest {
    @Test
    void everyStatusMapsToItsNamedException() {
        List<StatusDesc> table = Wafermon.statusTable();
        assertEquals(15, table.size(), "WM_OK .. WM_E_INTERNAL");
        for (int i = 0; i < table.size(); i++) {
            StatusDesc d = table.get(i);
            assertEquals(i, d.code(), "the table is indexed by code");
            assertEquals(NativeLibrary.statusName(d.code()), d.name());
            if (d.code() == 0) {
                assertEquals("WM_OK", d.name());
                continue;
            }
            WafermonException e = Status.exception(d.code(), "detail");
            String javaName = d.exception().replaceAll("Error$", "Exception");
            if (javaName.equals("IOException") || javaName.equals("TimeoutException")) {
                javaName = "Wafermon" + javaName; // never the JDK's simple names
            }
            assertEquals("dev.wafermon." + javaName, e.getClass().getName(), d.toString());
            assertEquals(d.exception(), e.errorName());
            assertEquals(d.name(), e.statusName());
            assertEquals(d.code(), e.code());
            assertEquals("detail", e.getMessage());
            assertTrue(e instanceof WafermonException);
            assertTrue(e instanceof RuntimeException, "unchecked");
        }
    }

    @Test
    void anUnknownStatusKeepsItsCode() {
        WafermonException e = Status.exception(99, "future");
        assertEquals(WafermonException.class, e.getClass());
        assertEquals(99, e.code());
        assertEquals("WM_E_UNKNOWN", e.statusName());
    }

    @Test
    void versionsAgree() {
        assertEquals(System.getProperty("wafermon.test.version"), Wafermon.version(), "pom = SDK");
        assertEquals(Wafermon.version(), Wafermon.nativeVersion(), "SDK = native core");
        assertEquals(100, NativeLibrary.versionNum(), "0.1.0");
        assertEquals("libwafermon-jni-" + Wafermon.version() + ".so", NativeLibrary.fileName());
        assertEquals("linux-x86_64", NativeLibrary.platform());
    }
}
