package dev.offheap.allocator.offheap;

import dev.offheap.allocator.OffHeapOutOfMemoryException;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The allocator's JFR events are emitted with their figures when recording. */
class FlightRecorderEventsTest {

    @Test
    void spansPurgesTheCapAndLargeAllocationsAreRecorded(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("offheap.jfr");
        try (Recording recording = new Recording()) {
            for (String event : List.of("Span", "Purge", "CapReached", "LargeAllocation")) {
                recording.enable("dev.offheap.allocator." + event);
            }
            recording.start();
            try (OffHeapAllocator allocator = OffHeapAllocator.create(new OffHeapAllocatorConfig().name("jfr")
                    .maxBytes(8L << 20).decayMillis(-1).largeAllocationThresholdBytes(1L << 20))) {
                long small = allocator.allocate(64);
                long large = allocator.allocate(3L << 20);
                assertThrows(OffHeapOutOfMemoryException.class, () -> allocator.allocate(6L << 20));
                allocator.free(large);
                allocator.free(small);
                allocator.trim();
            }
            recording.stop();
            recording.dump(file);
        }
        List<RecordedEvent> events = RecordingFile.readAllEvents(file).stream()
                .filter(e -> "jfr".equals(e.getString("allocator"))).toList();
        List<RecordedEvent> spans = byName(events, "Span");
        assertTrue(spans.stream().anyMatch(e -> e.getString("kind").equals("slab") && e.getBoolean("acquired")));
        assertTrue(spans.stream().anyMatch(e -> e.getString("kind").equals("huge block") && !e.getBoolean("acquired")
                && e.getLong("bytes") == 3L << 20));
        RecordedEvent cap = byName(events, "CapReached").getFirst();
        assertEquals(6L << 20, cap.getLong("requestedBytes"));
        assertEquals(8L << 20, cap.getLong("maxBytes"));
        List<RecordedEvent> large = byName(events, "LargeAllocation");
        assertEquals(2, large.size(), "the 3 MiB and the refused 6 MiB allocation");
        assertTrue(large.getFirst().getStackTrace() != null, "large allocations carry their stack");
        assertTrue(byName(events, "Purge").stream().mapToLong(e -> e.getLong("bytes")).sum() >= 3L << 20);
    }

    private static List<RecordedEvent> byName(List<RecordedEvent> events, String name) {
        return events.stream().filter(e -> e.getEventType().getName().equals("dev.offheap.allocator." + name))
                .toList();
    }
}
