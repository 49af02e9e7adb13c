package dev.wafermon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** queue.when_full = "drop": an emit into a full queue is counted in DROPPED, never thrown. */
class QueueFullTest {
    @TempDir Path dir;

    @Test
    void aDroppingEmitIsCountedNotThrown() {
        Map<String, Object> config = Fixtures.directConfig(dir);
        // A batch larger than the queue and a long interval: nothing drains until the flush.
        config.put("queue", Map.of("size", 5, "when_full", "drop"));
        config.put("batch_size", 1000);
        config.put("flush_interval", 60);
        try (Client client = Client.open(config)) {
            for (int i = 0; i < 10; i++) { // 20 events into a queue of 5: no QueueFullException
                try (Job job = client.job("dropping").start()) {
                    job.succeed();
                }
            }
            assertEquals(5, client.stat(Stat.EMITTED));
            assertEquals(15, client.stat(Stat.DROPPED));
            client.flush(Duration.ofSeconds(10));
            assertEquals(5, client.stat(Stat.DELIVERED));
        }
    }
}
