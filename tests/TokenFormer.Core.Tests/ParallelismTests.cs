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
}
