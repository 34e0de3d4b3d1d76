package dev.offheap.allocator.offheap;

/**
 * A run of pages taken from the {@link PageBuddy} for one purpose. The page map sends every page of the run
 * to its span, which is how an address finds its metadata: {@code pageMap[(address - base) >>> PAGE_SHIFT]}.
 */
abstract sealed class Span permits Slab, MediumChunk, HugeSpan {
    /** The first page. */
    final int firstPage;
    /** The number of pages. */
    final int pageCount;

    Span(int firstPage, int pageCount) {
        this.firstPage = firstPage;
        this.pageCount = pageCount;
    }

    /** Range offset of the first byte. */
    final long offset() {
        return (long) firstPage << PageBuddy.PAGE_SHIFT;
    }

    final long byteSize() {
        return (long) pageCount << PageBuddy.PAGE_SHIFT;
    }
}
