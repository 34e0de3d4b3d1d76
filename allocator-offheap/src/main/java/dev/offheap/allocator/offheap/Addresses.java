package dev.offheap.allocator.offheap;

import dev.offheap.allocator.DoubleFreeException;
import dev.offheap.allocator.InvalidAddressException;

import java.lang.foreign.MemorySegment;

import static dev.offheap.allocator.internal.Checks.hex;
import static dev.offheap.allocator.offheap.PageBuddy.PAGE_SHIFT;

/**
 * From an address to its block, for every call that takes one (free's slow path, usableSize, segment,
 * reallocate), and the errors that name what is wrong with an address: outside the range, on free pages, inside a
 * block, not live. One page-map load and arithmetic; no lock. Thread-safe (reads the page map as free does).
 */
final class Addresses {

    private final String name;
    private final MemorySegment memory;
    private final long rangeBytes;
    private final Span[] pageMap;

    Addresses(String name, MemorySegment memory, long rangeBytes, Span[] pageMap) {
        this.name = name;
        this.memory = memory;
        this.rangeBytes = rangeBytes;
        this.pageMap = pageMap;
    }

    /** The span holding {@code address}, or the error for an address outside every span. */
    Span spanOf(String call, long address) {
        long offset = address - memory.address();
        if (offset < 0 || offset >= rangeBytes) {
            throw invalid(call, address, "outside its range [" + hex(memory.address()) + ", "
                    + hex(memory.address() + rangeBytes) + ")");
        }
        Span span = pageMap[(int) (offset >>> PAGE_SHIFT)];
        if (span == null) {
            throw invalid(call, address, "no block there (free pages: never handed out, or already freed)");
        }
        return span;
    }

    /** The live slot starting at {@code address}, or the error: no slot starts there, or it is not live. */
    int liveSlot(String call, Slab slab, long address) {
        int slot = slab.slotAt(address - memory.address() - slab.offset());
        if (slot < 0) {
            throw invalid(call, address, "no block starts there (blocks here are " + slab.slotBytes
                    + " bytes from " + hex(memory.address() + slab.offset()) + ")");
        }
        if (slab.live[slot] != Slab.LIVE_SLOT) {
            throw doubleFree(call, address);
        }
        return slot;
    }

    /** Checks that {@code address} is the huge block's start. */
    void hugeStart(String call, HugeSpan huge, long address) {
        if (address - memory.address() != huge.offset()) {
            throw invalid(call, address, "no block starts there (inside a huge block at "
                    + hex(memory.address() + huge.offset()) + ")");
        }
    }

    DoubleFreeException doubleFree(String call, long address) {
        return new DoubleFreeException(address, call + "(" + hex(address) + "): the block is not allocated: already"
                + " freed (double free or use after free), or never handed out");
    }

    InvalidAddressException invalid(String call, long address, String reason) {
        return new InvalidAddressException(address, call + "(" + hex(address) + "): not an address OffHeapAllocator '"
                + name + "' returned: " + reason);
    }
}
