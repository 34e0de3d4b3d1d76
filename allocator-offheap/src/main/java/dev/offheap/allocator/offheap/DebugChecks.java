package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.HeapCorruptionException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * Debug mode's checks on small blocks ({@code debugLevel(1)}): each block has at least {@value #CANARY_BYTES}
 * canary bytes after the size asked, checked at free; a freed block is poisoned and waits in the
 * {@link Quarantine}, and its poison is checked when it leaves, when its slot is handed out again, and by
 * {@code verify()}. New slabs are filled with poison, so a slot's first allocation checks it too.
 *
 * <pre>
 *   live block:        | asked bytes ........ | CANARY CANARY ... (to the slot's end) |
 *   free, quarantined: | POISON POISON ...................................... POISON |
 *   free, on the stack:| remote link (4 B) | POISON ......................... POISON |
 * </pre>
 * Medium and huge blocks have no canaries: the medium chunks' boundary tags catch overflows there.
 * Every check reads bytes through the range's bounds-checked segment, so a check can never fault.
 */
final class DebugChecks {
    static final byte POISON = (byte) 0xDE;
    /** The bytes between a small block's requested size and its slot's end. */
    static final byte CANARY = (byte) 0xCA;
    /** Every small block gets at least this many canary bytes after it. */
    static final int CANARY_BYTES = 8;

    /** Where a quarantined block goes when it leaves: the allocator's real free of its slot. */
    @FunctionalInterface
    interface SlotFree {
        void free(Slab slab, int slot, long address);
    }

    private final MemorySegment memory;
    private final long base;
    private final Span[] pageMap;
    private final Quarantine quarantine = new Quarantine();

    DebugChecks(MemorySegment memory, Span[] pageMap) {
        this.memory = memory;
        this.base = memory.address();
        this.pageMap = pageMap;
    }

    /**
     * The first index in {@code [from, to)} at which the byte at {@code offset + index} of {@code memory} is not
     * {@code expected}, or -1: the one loop behind every canary and poison check.
     */
    static long firstMismatch(MemorySegment memory, long offset, long from, long to, byte expected) {
        for (long i = from; i < to; i++) {
            if (memory.get(ValueLayout.JAVA_BYTE, offset + i) != expected) {
                return i;
            }
        }
        return -1;
    }

    /** Size asked for a small block: its slot must also hold the canary. */
    static long slotWanted(long byteSize) {
        return byteSize + CANARY_BYTES;
    }

    /**
     * After a small allocation: fills the slot past the requested size with the canary and remembers the size
     * (unless the block went into a medium chunk, at the cap).
     */
    void armCanary(long address, long byteSize) {
        if (!(pageMap[(int) ((address - base) >>> PAGE_SHIFT)] instanceof Slab slab)) {
            return; // placed in a medium chunk at the cap: no canary there, as for every medium block
        }
        int slot = slab.slotAt(address - base - slab.offset());
        slab.requested[slot] = (int) byteSize;
        memory.asSlice(address - base + byteSize, slab.slotBytes - byteSize).fill(CANARY);
    }

    /**
     * A debug-mode free of a small block: canary checked (an overflow is reported before anything changes),
     * the block poisoned and parked in the quarantine; the oldest quarantined blocks are checked for writes
     * after free and really freed through {@code release}.
     */
    void quarantine(Slab slab, int slot, long address, SlotFree release) {
        long offset = address - base;
        int requested = slab.requested[slot];
        long bad = firstMismatch(memory, offset, requested, slab.slotBytes, CANARY);
        if (bad >= 0) {
            throw new HeapCorruptionException("free(" + hex(address) + "): the block (" + requested + " bytes"
                    + " asked) was written past its end: canary byte " + (bad - requested) + " after it changed"
                    + " (or the next block was written before its start); the block is still allocated");
        }
        if (!Slab.LIVE.compareAndSet(slab.live, slot, Slab.LIVE_SLOT, Slab.QUARANTINED)) {
            throw new DoubleFreeException(address, "free(" + hex(address) + "): the block is not allocated: already"
                    + " freed (double free or use after free), or never handed out");
        }
        memory.asSlice(offset, slab.slotBytes).fill(POISON);
        quarantine.add(address, slab.slotBytes);
        for (long oldest = quarantine.pollExcess(); oldest != 0; oldest = quarantine.pollExcess()) {
            releaseQuarantined(oldest, release);
        }
    }

    /** Lets every quarantined block go (trim, or memory ran out: the quarantine must never be why). */
    void flush(SlotFree release) {
        for (long address = quarantine.poll(); address != 0; address = quarantine.poll()) {
            releaseQuarantined(address, release);
        }
    }

    int quarantined() {
        return quarantine.count();
    }

    /** {@code stats} with the quarantined blocks counted as freed: to the program they are. */
    AllocatorStats withQuarantineFreed(AllocatorStats stats) {
        int quarantined = quarantine.count();
        return quarantined == 0 ? stats : new AllocatorStats(stats.reservedBytes(), stats.committedBytes(),
                stats.allocatedBytes(), stats.threadCachedBytes(), stats.freeBytes(), stats.largestFreeBlockBytes(),
                stats.liveBlocks() - quarantined, stats.allocations(), stats.frees() + quarantined,
                stats.sizeClasses());
    }

    /** A block leaves the quarantine: its poison is checked, then it is freed for real. */
    private void releaseQuarantined(long address, SlotFree release) {
        Slab slab = slabOf(address);
        int slot = slab.slotAt(address - base - slab.offset());
        long bad = firstMismatch(memory, address - base, 0, slab.slotBytes, POISON);
        if (bad >= 0) {
            // Kept out of circulation for good: corrupted memory is never handed out again.
            throw new HeapCorruptionException("the block at " + hex(address) + " (" + slab.slotBytes + "-byte"
                    + " slot) was written after it was freed: byte " + bad + " changed while it was in the debug"
                    + " quarantine (found when it left; the free that let it out went through)");
        }
        Slab.LIVE.setVolatile(slab.live, slot, Slab.LIVE_SLOT);
        release.free(slab, slot, address);
    }

    /** Before a free slot is handed out again: its poison (past the remote-free link) is intact. */
    void checkPoison(Slab slab, int slot) {
        long bad = firstMismatch(memory, slab.slotOffset(slot), SlabLayout.NEXT + Integer.BYTES, slab.slotBytes,
                POISON);
        if (bad >= 0) {
            throw slab.corrupted(slot, "byte " + bad + " was overwritten after free");
        }
    }

    private Slab slabOf(long address) {
        return (Slab) pageMap[(int) ((address - base) >>> PAGE_SHIFT)];
    }
}
