package dev.offheap.allocator.offheap;

import dev.offheap.allocator.AllocatorStats;
import dev.offheap.allocator.SizeClasses;

import java.util.ArrayList;
import java.util.List;

import static dev.offheap.allocator.offheap.GlobalHeap.SMALL_CLASSES;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_BYTES;

/**
 * The walks behind {@code stats()} and {@code liveBlocks()}. The locks are held only to read the page buddy, the
 * huge blocks, the medium chunks and the list of slabs; the slabs, whose counters their owners change without a
 * lock anyway, are walked after both locks are let go: on a heap of 1 GiB of 64-byte blocks (15,625 slabs) that
 * walk took milliseconds, and every refill and medium allocation would have waited for it.
 */
final class HeapStats {

    private HeapStats() {
    }

    /** Receives one live block. */
    @FunctionalInterface
    interface LiveBlockVisitor {
        void visit(long address, long usableBytes);
    }

    /** Every live block, with its allocation stack where {@code leaks} recorded one (null: leak detection off). */
    static List<LiveBlock> liveBlocks(GlobalHeap heap, LeakTracker leaks) {
        List<LiveBlock> blocks = new ArrayList<>();
        forEachLiveBlock(heap, (address, usable) ->
                blocks.add(new LiveBlock(address, usable, leaks == null ? List.of() : leaks.stackOf(address))));
        return blocks;
    }

    /** Every live block's address and usable bytes, in no particular order (a snapshot; racy for slabs). */
    static void forEachLiveBlock(GlobalHeap heap, LiveBlockVisitor visitor) {
        heap.mediums.lockAll();
        heap.lock.lock();
        try {
            long base = heap.memory.address();
            for (Slab slab : heap.slabs()) {
                for (int slot = 0; slot < slab.slotCount; slot++) {
                    if (slab.live[slot] == Slab.LIVE_SLOT) {
                        visitor.visit(base + slab.slotOffset(slot), slab.slotBytes);
                    }
                }
            }
            for (MediumChunk chunk : heap.mediums.chunks()) {
                chunk.blocks.forEachLiveBlock(visitor::visit); // stashed blocks are marked freed: not visited
            }
            for (HugeSpan huge : heap.hugeSpans()) {
                visitor.visit(base + huge.offset(), huge.byteSize());
            }
        } finally {
            heap.lock.unlock();
            heap.mediums.unlockAll();
        }
    }

    /** A snapshot of the heap's figures; see the class comment for what is read under which lock. */
    static AllocatorStats snapshot(GlobalHeap heap, boolean closed) {
        Slab[] slabSnapshot;
        long allocated;
        long liveBlocks;
        long free;
        long committed;
        long largestFree;
        long allocations;
        MediumArenas mediums = heap.mediums;
        mediums.lockAll();
        try {
            heap.lock.lock();
            try {
                slabSnapshot = heap.slabs().toArray(new Slab[0]);
                allocated = heap.hugeLiveBytes();
                liveBlocks = heap.hugeSpans().size();
                // Free bytes in committed memory: free pages not yet handed back to the OS, and free room in spans.
                PageLayer pages = heap.pages();
                free = (heap.range.canDecommit() ? pages.dirtyFreePages() : pages.freePages()) * PAGE_BYTES;
                committed = heap.committedBytes();
                largestFree = closed ? 0 : heap.largestFreeLocked();
                allocations = heap.retiredAndHugeAllocations();
                for (int i = 0; i < mediums.count(); i++) {
                    allocations += mediums.arena(i).allocations();
                }
            } finally {
                heap.lock.unlock();
            }
            for (MediumChunk chunk : closed ? List.<MediumChunk>of() : mediums.chunks()) {
                // Three header reads per chunk: the chunk's stats() would also walk its free lists, under the lock.
                // Its clean pages were given back: free, but not committed.
                allocated += chunk.blocks.allocatedBytes();
                liveBlocks += chunk.blocks.liveBlocks();
                free += chunk.blocks.freeBytes() - Long.bitCount(chunk.cleanPages) * PAGE_BYTES;
            }
            free -= heap.edgeBytes(); // their edges were given back too
            for (int i = 0; i < mediums.count(); i++) {
                MediumStash stash = mediums.arena(i).stash();
                allocated -= stash.bytes(); // freed, kept allocated in their chunks for reuse: free to the caller
                liveBlocks -= stash.count();
                free += stash.bytes();
            }
        } finally {
            mediums.unlockAll();
        }
        long[] live = new long[SMALL_CLASSES];
        long[] slabCount = new long[SMALL_CLASSES];
        long[] freeSlots = new long[SMALL_CLASSES];
        long cached = 0;
        for (Slab slab : slabSnapshot) {
            int c = slab.sizeClass;
            long slabLive = Math.max(0, slab.liveBlocks());
            live[c] += slabLive;
            slabCount[c]++;
            freeSlots[c] += slab.slotCount - slabLive;
            allocated += slab.requested == null ? slabLive * slab.slotBytes : requestedBytes(slab);
            liveBlocks += slabLive;
            allocations += slab.allocations;
            if (slab.owner != null) {
                cached += (slab.slotCount - slabLive) * slab.slotBytes;
            } else {
                free += (slab.slotCount - slabLive) * slab.slotBytes;
            }
        }
        List<AllocatorStats.SizeClassStats> classes = new ArrayList<>();
        for (int c = 0; c < SMALL_CLASSES; c++) {
            if (slabCount[c] > 0) {
                classes.add(new AllocatorStats.SizeClassStats(c, SizeClasses.size(c), live[c], slabCount[c],
                        freeSlots[c]));
            }
        }
        return new AllocatorStats(heap.rangeBytes, closed ? 0 : committed, allocated, cached, free, largestFree,
                liveBlocks, allocations, allocations - liveBlocks, classes);
    }

    /** Debug mode: the bytes asked for by the live blocks of a slab (what their usableSize says). */
    private static long requestedBytes(Slab slab) {
        long bytes = 0;
        for (int slot = 0; slot < slab.slotCount; slot++) {
            if (slab.live[slot] == Slab.LIVE_SLOT) {
                bytes += slab.requested[slot];
            }
        }
        return bytes;
    }
}
