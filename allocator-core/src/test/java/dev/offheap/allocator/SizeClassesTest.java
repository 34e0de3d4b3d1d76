package dev.offheap.allocator;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizeClassesTest {

    @Test
    void theTableInTheJavadocHolds() {
        long[] expected = {16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896,
                1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192, 10240, 12288, 14336,
                16384, 20480, 24576, 28672, 32768};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], SizeClasses.size(i), "class " + i);
        }
        assertEquals(SizeClasses.MAX_SIZE, SizeClasses.size(SizeClasses.COUNT - 1));
    }

    @Test
    void indexIsTheSmallestClassThatHoldsTheSize() {
        // Exhaustive to 1 MiB, then at every class edge up to the largest.
        for (long size = 0; size <= 1 << 20; size++) {
            checkIndex(size);
        }
        for (int c = 0; c < SizeClasses.COUNT; c++) {
            long edge = SizeClasses.size(c);
            checkIndex(edge);
            checkIndex(edge - 1);
            if (edge < SizeClasses.MAX_SIZE) {
                checkIndex(edge + 1);
            }
        }
    }

    private static void checkIndex(long size) {
        int index = SizeClasses.index(size);
        assertTrue(SizeClasses.size(index) >= size, "class " + index + " too small for " + size);
        if (index > 0) {
            assertTrue(SizeClasses.size(index - 1) < size, "class " + (index - 1) + " would hold " + size);
        }
    }

    @Test
    void wasteIsAtMostAQuarterAbove128Bytes() {
        for (long size = 129; size <= 1 << 20; size++) {
            long block = SizeClasses.roundUp(size);
            assertTrue(block - size <= size / 4 + 1, size + " -> " + block);
            assertEquals(0, block % SizeClasses.QUANTUM);
        }
    }

    @Test
    void outOfRangeIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> SizeClasses.index(-1));
        assertThrows(IllegalArgumentException.class, () -> SizeClasses.index(SizeClasses.MAX_SIZE + 1));
        assertThrows(IllegalArgumentException.class, () -> SizeClasses.size(-1));
        assertThrows(IllegalArgumentException.class, () -> SizeClasses.size(SizeClasses.COUNT));
    }
}
