package dev.offheap.allocator.offheap;

import dev.offheap.allocator.HeapCorruptionException;

import java.util.ArrayList;
import java.util.List;

import static dev.offheap.allocator.internal.Checks.hex;

/**
 * {@code verify()}: walks the whole heap from the top, holding both locks, and checks the invariants each layer
 * documents: every span's pages map to it in the page map; the buddy's free lists ({@link PageBuddy#verify()})
 * and that no free page is in a span; pages in spans plus free pages cover the range; every slab's slot
 * accounting and free stack; the medium stash; every medium chunk's boundary tags and clean pages; in debug mode
 * every live small block's canary and the poison of free and quarantined ones ({@link DebugChecks}).
 *
 * <p>Slabs that another live thread owns are used without the lock, so only what that thread cannot be changing
 * (canaries of live blocks) is checked in them.
 */
final class HeapVerifier {

    private HeapVerifier() {
    }

    /** @throws HeapCorruptionException naming the first broken invariant */
    static void verify(GlobalHeap heap, Thread caller) {
        heap.mediums.lockAll();
        heap.lock.lock();
        try {
            verifyPages(heap);
            for (Slab slab : heap.slabs()) {
                ThreadCache owner = slab.owner;
                boolean still = owner == null || owner.thread == caller
                        || owner.thread != null && !owner.thread.isAlive();
                verifySlab(heap, slab, still);
            }
            verifyMedium(heap);
        } finally {
            heap.lock.unlock();
            heap.mediums.unlockAll();
        }
    }

    private static void verifyPages(GlobalHeap heap) {
        Span[] pageMap = heap.pageMap;
        long mapped = 0;
        List<Span> spans = new ArrayList<>(heap.slabs());
        spans.addAll(heap.mediums.chunks());
        spans.addAll(heap.hugeSpans());
        for (Span span : spans) {
            for (int p = span.firstPage; p < span.firstPage + span.pageCount; p++) {
                if (pageMap[p] != span) {
                    throw broken("page " + p + " of the " + span.getClass().getSimpleName() + " at range offset "
                            + hex(span.offset()) + " maps to " + pageMap[p]);
                }
            }
            mapped += span.pageCount;
        }
        if (mapped != heap.spanPages()) {
            throw broken("spans hold " + mapped + " pages, the count says " + heap.spanPages());
        }
        if (heap.purgeInFlight()) {
            return; // a purge holds free blocks out of the buddy: the free lists are not whole now
        }
        PageLayer buddy = heap.pages();
        String problem = buddy.verify();
        if (problem == null) {
            String[] inSpan = new String[1];
            buddy.forEachFreeBlock((first, order) -> {
                for (int q = first; q < first + (1 << order) && inSpan[0] == null; q++) {
                    if (pageMap[q] != null) {
                        inSpan[0] = "page " + q + " is both free (in the block of order " + order + " at page "
                                + first + ") and in a span";
                    }
                }
            });
            problem = inSpan[0];
        }
        if (problem == null && buddy.freePages() + heap.spanPages() != buddy.pages) {
            problem = buddy.freePages() + " free pages + " + heap.spanPages() + " in spans != " + buddy.pages;
        }
        if (problem != null) {
            throw broken("page buddy: " + problem);
        }
    }

    private static void verifySlab(GlobalHeap heap, Slab slab, boolean still) {
        int[] requested = slab.requested;
        int live = 0;
        for (int slot = 0; slot < slab.slotCount; slot++) {
            byte state = slab.live[slot];
            long offset = slab.slotOffset(slot);
            if (state == Slab.LIVE_SLOT) {
                live++;
                if (requested != null) {
                    long bad = DebugChecks.firstMismatch(heap.memory, offset, requested[slot], slab.slotBytes,
                            DebugChecks.CANARY);
                    if (bad >= 0) {
                        throw broken("the block at " + hex(heap.memory.address() + offset) + " (" + requested[slot]
                                + " bytes asked) was written past its end: canary byte " + (bad - requested[slot])
                                + " after it changed (or the next block was written before its start)");
                    }
                }
            } else if (state == Slab.QUARANTINED) {
                live++;
                requirePoison(heap, slab, slot, 0, "in quarantine");
            }
        }
        if (!still) {
            return;
        }
        if (live + slab.freeTop + slab.remoteCount() != slab.slotCount) {
            throw broken("slab of " + slab.slotBytes + "-byte blocks at range offset " + hex(slab.offset()) + ": "
                    + live + " live + " + slab.freeTop + " free + " + slab.remoteCount() + " remote != "
                    + slab.slotCount + " slots");
        }
        boolean[] seen = new boolean[slab.slotCount];
        for (int i = 0; i < slab.freeTop; i++) {
            int slot = slab.freeStack[i];
            if (slot >= slab.slotCount || seen[slot] || slab.live[slot] != 0) {
                throw broken("slab of " + slab.slotBytes + "-byte blocks at range offset " + hex(slab.offset())
                        + ": free-stack entry " + i + " (slot " + slot + ") is out of range, twice on the stack, or"
                        + " live");
            }
            seen[slot] = true;
            if (heap.newSlabFill != 0) {
                requirePoison(heap, slab, slot, SlabLayout.NEXT + Integer.BYTES, "free");
            }
        }
    }

    private static void requirePoison(GlobalHeap heap, Slab slab, int slot, long from, String state) {
        long offset = slab.slotOffset(slot);
        long bad = DebugChecks.firstMismatch(heap.memory, offset, from, slab.slotBytes, heap.newSlabFill);
        if (bad >= 0) {
            throw broken("the " + state + " block at " + hex(heap.memory.address() + offset) + " was written after"
                    + " it was freed: byte " + bad + " of " + slab.slotBytes);
        }
    }

    /** What is wrong with a stash entry of {@code arena}: null, or the reason. */
    private static String stashedBlockProblem(GlobalHeap heap, MediumHeap arena, long entry) {
        long offset = MediumStash.offsetOf(entry);
        if (!(heap.pageMap[(int) (offset >>> PageBuddy.PAGE_SHIFT)] instanceof MediumChunk chunk)
                || chunk.arena != arena || !arena.chunks().contains(chunk)) {
            return "it lies in no chunk of this arena";
        }
        try {
            long usable = chunk.blocks.checkAround("verify", heap.memory.address() + offset, true);
            return usable == MediumStash.usableOf(entry) ? null
                    : "it is " + usable + " bytes, its entry says " + MediumStash.usableOf(entry);
        } catch (RuntimeException broken) {
            return broken.getMessage();
        }
    }

    private static void verifyMedium(GlobalHeap heap) {
        List<MediumChunk> chunks = heap.mediums.chunks();
        for (int i = 0; i < heap.mediums.count(); i++) {
            MediumHeap arena = heap.mediums.arena(i);
            String stashProblem = arena.stash().verify(entry -> stashedBlockProblem(heap, arena, entry));
            if (stashProblem != null) {
                throw broken("medium stash of arena " + i + ": " + stashProblem);
            }
        }
        int subShift = Long.numberOfTrailingZeros(heap.range.decommitGranule());
        long edgeBytes = 0;
        for (MediumChunk chunk : chunks) {
            chunk.blocks.verify();
            int edge = chunk.misplacedEdge(heap.memory.address(), subShift);
            if (edge >= 0) {
                throw broken("medium chunk at range offset " + hex(chunk.offset()) + ": " + (edge == Integer.MAX_VALUE
                        ? "its edge count " + chunk.edgeCount + " is not the number of its edges"
                        : "sub-page " + edge + " was handed back to the OS but is not free space in a committed page"));
            }
            edgeBytes += (long) chunk.edgeCount << subShift;
            long notFree = chunk.cleanPages & ~chunk.pagesInFreeSpace(heap.memory.address());
            if (notFree != 0) {
                throw broken("medium chunk at range offset " + hex(chunk.offset()) + ": page "
                        + Long.numberOfTrailingZeros(notFree) + " was handed back to the OS but is not free space");
            }
            for (long bits = chunk.cleanPages; bits != 0; bits &= bits - 1) {
                if (heap.pages().isCommitted(chunk.firstPage + Long.numberOfTrailingZeros(bits))) {
                    throw broken("medium chunk at range offset " + hex(chunk.offset()) + ": page "
                            + Long.numberOfTrailingZeros(bits) + " is clean, but committed in the page buddy");
                }
            }
        }
        if (edgeBytes != heap.edgeBytes()) {
            throw broken("the medium chunks hold " + edgeBytes + " bytes of edges handed back to the OS, but the"
                    + " heap counts " + heap.edgeBytes());
        }
    }

    private static HeapCorruptionException broken(String what) {
        return new HeapCorruptionException("verify(): " + what);
    }
}
