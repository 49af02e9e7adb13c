package dev.wafermon;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/** Base of the tests that run on one client per test, direct to a filesystem backend in {@link #dir}. */
abstract class DirectClientTest {
    @TempDir Path dir;
    Client client;

    @BeforeEach
    void open() {
        client = Fixtures.direct(dir);
    }

    @AfterEach
    void close() {
        client.close();
    }
}
