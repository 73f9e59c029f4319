// The deadlines of numbered items (peers), earliest first (docs/scaling.md).

/// One deadline per item, numbered from 0, kept in a binary min-heap: changing an item's deadline
/// costs O(log n), and so does taking each item that is due, so a server with 10,000 peers does not
/// look at every peer on every turn of its event loop.
///
/// Changing a deadline pushes a new heap entry and leaves the old one in place; an entry whose
/// deadline is no longer its item's is skipped when it reaches the top. When stale entries outnumber
/// the items, the heap is rebuilt.
public struct DeadlineQueue: Sendable {
    private struct Entry: Sendable {
        var deadline: Seconds
        var item: Int
    }

    private var heap: [Entry] = []
    /// Each item's deadline; `.infinity` for none.
    private var deadlines: [Seconds] = []
    /// Items with a deadline other than `.infinity`.
    private var scheduledCount = 0

    /// An empty queue.
    public init() {}

    /// The deadline of `item`, `.infinity` when it has none.
    public func deadline(of item: Int) -> Seconds {
        deadlines.indices.contains(item) ? deadlines[item] : .infinity
    }

    /// Sets the deadline of `item`; `-.infinity` means "at once", `.infinity` removes it.
    public mutating func schedule(_ item: Int, at deadline: Seconds) {
        precondition(item >= 0 && !deadline.isNaN)
        if item >= deadlines.count {
            deadlines.append(contentsOf: repeatElement(.infinity, count: item + 1 - deadlines.count))
        }
        let previous = deadlines[item]
        guard previous != deadline else { return }
        deadlines[item] = deadline
        scheduledCount += (deadline < .infinity ? 1 : 0) - (previous < .infinity ? 1 : 0)
        guard deadline < .infinity else { return }
        heap.append(Entry(deadline: deadline, item: item))
        siftUp(heap.count - 1)
        if heap.count > 2 * scheduledCount + 64 { rebuild() }
    }

    /// The earliest deadline, `.infinity` when no item has one.
    public mutating func earliest() -> Seconds {
        dropStaleTop()
        return heap.first?.deadline ?? .infinity
    }

    /// Takes every item whose deadline `isDue`, in ascending item order, each once; their deadlines
    /// become `.infinity`, so the caller schedules them again after handling them.
    public mutating func takeDue(where isDue: (Seconds) -> Bool) -> [Int] {
        var due: [Int] = []
        while true {
            dropStaleTop()
            guard let top = heap.first, isDue(top.deadline) else { break }
            removeTop()
            deadlines[top.item] = .infinity
            scheduledCount -= 1
            due.append(top.item)
        }
        return due.sorted()
    }

    private func isCurrent(_ entry: Entry) -> Bool { deadlines[entry.item] == entry.deadline }

    private mutating func dropStaleTop() {
        while let top = heap.first, !isCurrent(top) { removeTop() }
    }

    private mutating func rebuild() {
        heap = deadlines.indices.compactMap { deadlines[$0] < .infinity ? Entry(deadline: deadlines[$0], item: $0) : nil }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func removeTop() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        siftDown(0)
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let smaller = right < heap.count && heap[right].deadline < heap[left].deadline ? right : left
            guard heap[smaller].deadline < heap[parent].deadline else { return }
            heap.swapAt(parent, smaller)
            parent = smaller
        }
    }
}
