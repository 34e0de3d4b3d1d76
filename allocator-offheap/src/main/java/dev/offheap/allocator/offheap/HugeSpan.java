package dev.offheap.allocator.offheap;

/** One huge block: a run of whole pages, its own span. */
final class HugeSpan extends Span {
    HugeSpan(int firstPage, int pageCount) {
        super(firstPage, pageCount);
    }
}
