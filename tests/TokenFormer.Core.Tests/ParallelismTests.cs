using TokenFormer.Core.Threading;

namespace TokenFormer.Core.Tests;

public class ParallelismTests
{
    private sealed class CountingWork(int count) : IParallelWork
    {
        public readonly int[] Hits = new int[count];
        public Action<int>? Inner;

        public void Execute(int index)
        {
            Interlocked.Increment(ref Hits[index]);
            Inner?.Invoke(index);
        }
    }

    [Fact]
    public void For_RunsEveryIndexExactlyOnce()
    {
        foreach (int count in new[] { 1, 2, 3, 17, 1000 })
        {
            var work = new CountingWork(count);
            Parallelism.For(count, work);
            Assert.All(work.Hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void NestedFor_RunsInnerItemsSeriallyWithoutDeadlock()
    {
        var outer = new CountingWork(8);
        var inners = Enumerable.Range(0, 8).Select(_ => new CountingWork(5)).ToArray();
        outer.Inner = i => Parallelism.For(5, inners[i]);
        Parallelism.For(8, outer);
        Assert.All(outer.Hits, h => Assert.Equal(1, h));
        Assert.All(inners, w => Assert.All(w.Hits, h => Assert.Equal(1, h)));
    }

    [Fact]
    public void ConcurrentCallers_AllComplete()
    {
        var works = Enumerable.Range(0, 6).Select(_ => new CountingWork(200)).ToArray();
        Parallel.For(0, works.Length, i =>
        {
            for (int r = 0; r < 50; r++) Parallelism.For(200, works[i]);
        });
        Assert.All(works, w => Assert.All(w.Hits, h => Assert.Equal(50, h)));
    }

    [Fact]
    public void ExceptionInWorkItem_ReachesCaller()
    {
        var work = new CountingWork(64) { Inner = i => { if (i == 37) throw new InvalidOperationException("item 37"); } };
        var e = Assert.ThrowsAny<Exception>(() => Parallelism.For(64, work));
        Assert.Contains("item 37", e.ToString());
        // The pool stays usable afterwards.
        var again = new CountingWork(10);
        Parallelism.For(10, again);
        Assert.All(again.Hits, h => Assert.Equal(1, h));
    }

    /// <summary>A job whose items may run only while its caller is inside <see cref="Parallelism.For"/>.</summary>
    private sealed class GuardedWork(int count) : IParallelWork
    {
        public volatile bool Open;
        public int Count = count, Strays, Runs;

        public void Execute(int index)
        {
            if (!Open || (uint)index >= (uint)Count) Interlocked.Increment(ref Strays);
            Interlocked.Increment(ref Runs);
        }
    }

    [Fact]
    public void NoItemRunsOutsideItsJob_WhenAShortJobIsFollowedByALongerOne()
    {
        // A worker that read the finished short job's claim index could, before the fix, claim that index again in
        // the window in which the next (longer) job's work and count were published but not yet opened, and run an
        // item of the new job that no one waited for (the serve load test saw it as a null buffer in attention).
        var shortJob = new GuardedWork(3);
        var longJob = new GuardedWork(32);
        var deadline = DateTime.UtcNow.AddSeconds(2);
        int jobs = 0;
        while (DateTime.UtcNow < deadline)
        {
            foreach (GuardedWork w in new[] { shortJob, longJob })
            {
                w.Open = true;
                Parallelism.For(w.Count, w);
                w.Open = false;
                jobs++;
            }
        }
        Thread.Sleep(50); // a stray item would have run by now
        Assert.Equal(0, shortJob.Strays + longJob.Strays);
        Assert.Equal(jobs / 2 * 3 + (jobs % 2) * 3, shortJob.Runs);
        Assert.Equal(jobs / 2 * 32, longJob.Runs);
    }

    [Fact]
    public void StealingRanges_OwnersReadTheirRangeFrontToBack_ThievesTakeTheBack()
    {
        var ranges = new StealingRanges();
        ranges.Set(rows: 1000, block: 64, ranges: 2); // 16 blocks, the last one 40 rows: ranges [0, 8) and [8, 16)
        Assert.Equal(2, ranges.Count);
        var taken = new List<(int, int)>();
        // the owner of range 0 finishes its range in order, then takes range 1 from its back
        for (int i = 0; i < 10; i++)
        {
            Assert.True(ranges.TryClaim(0, out int s, out int e));
            taken.Add((s, e));
        }
        Assert.Equal(Enumerable.Range(0, 8).Select(b => (b * 64, b * 64 + 64)), taken.Take(8));
        Assert.Equal((960, 1000), taken[8]);
        Assert.Equal((896, 960), taken[9]);
        // the owner of range 1 then gets what is left of its front, and nothing past what was stolen
        var rest = new List<(int, int)>();
        while (ranges.TryClaim(1, out int s, out int e)) rest.Add((s, e));
        Assert.Equal(Enumerable.Range(8, 6).Select(b => (b * 64, b * 64 + 64)), rest);
        Assert.False(ranges.TryClaim(0, out _, out _));

        ranges.Set(rows: 100, block: 64, ranges: 8); // more ranges than blocks: one block each
        Assert.Equal(2, ranges.Count);
        ranges.Set(rows: 0, block: 64, ranges: 2);
        Assert.False(ranges.TryClaim(0, out _, out _));
    }

    [Fact]
    public void StealingRanges_EveryBlockIsClaimedExactlyOnce_UnderContention()
    {
        var ranges = new StealingRanges();
        for (int round = 0; round < 200; round++)
        {
            int rows = 1 + round * 37 % 5000, threads = 2 + round % 5;
            ranges.Set(rows, block: 16, ranges: threads);
            int[] hits = new int[rows];
            Parallel.For(0, ranges.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, owner =>
            {
                while (ranges.TryClaim(owner, out int s, out int e))
                    for (int j = s; j < e; j++) Interlocked.Increment(ref hits[j]);
            });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }
}
