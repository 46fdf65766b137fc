using TokenFormer.Fuzz;
using TokenFormer.TestSupport;

namespace TokenFormer.Fuzz.Tests;

/// <summary>
/// Every committed fuzz input (tools/fuzz/seeds and the corpus the campaigns found, tools/fuzz/corpus) goes through its
/// harness: it must be accepted or refused with the format's typed error, within the allocation bound the target
/// states and within <see cref="TimeBound"/> (docs/reliability.md, Fuzzing).
/// </summary>
public sealed class CorpusReplayTests
{
    /// <summary>Per input; generous because CI shares its machine and the first input of a target pays for JIT.</summary>
    private static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(5);

    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach (FuzzTarget t in FuzzTargets.All) data.Add(t.Name);
        return data;
    }

    private static List<string> Inputs(string target)
    {
        var files = new List<string>();
        foreach (string folder in new[] { "tools/fuzz/seeds/" + target, "tools/fuzz/corpus/" + target })
            if (RepositoryPaths.FindUp(folder) is { } dir && Directory.Exists(dir))
                files.AddRange(Directory.GetFiles(dir).Order(StringComparer.Ordinal));
        return files;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_committed_input_is_accepted_or_refused_with_the_typed_error_within_the_bounds(string name)
    {
        FuzzTarget target = FuzzTargets.Get(name);
        List<string> inputs = Inputs(name);
        Assert.NotEmpty(inputs);
        string scratch = TempFolders.Create("fuzz-" + name);
        var broken = new List<string>();
        foreach (string file in inputs)
        {
            try { FuzzHarness.Execute(target, File.ReadAllBytes(file), scratch, TimeBound); }
            catch (FuzzContractException e) { broken.Add($"{Path.GetFileName(file)}: {e.Message}"); }
        }
        Assert.True(broken.Count == 0, string.Join("\n", broken));
        Assert.Empty(Directory.GetFileSystemEntries(scratch));
    }

    [Fact]
    public void The_seeds_are_read_by_their_harness_not_all_refused()
    {
        // A harness that refused everything would pass the replay test while exercising nothing past the first check.
        foreach (FuzzTarget target in FuzzTargets.All)
        {
            string scratch = TempFolders.Create("fuzz-seeds-" + target.Name);
            string dir = RepositoryPaths.Require("tools/fuzz/seeds/" + target.Name);
            bool anyAccepted = Directory.GetFiles(dir)
                .Select(f => FuzzHarness.Execute(target, File.ReadAllBytes(f), scratch, TimeBound))
                .Any(o => o.Accepted);
            Assert.True(anyAccepted, $"no seed of '{target.Name}' is accepted by its reader");
        }
    }

    [Fact]
    public void An_untyped_exception_an_allocation_over_the_bound_and_a_slow_input_each_break_the_contract()
    {
        string scratch = TempFolders.Create("fuzz-contract");
        var throws = new FuzzTarget("t", "test", [typeof(InvalidDataException)], 1 << 20, 0, (_, _) => throw new InvalidOperationException("boom"));
        Assert.Contains("InvalidOperationException", Assert.Throws<FuzzContractException>(() => FuzzHarness.Execute(throws, [1], scratch, TimeBound)).Message);

        var typed = throws with { Body = (_, _) => throw new InvalidDataException("bad") };
        FuzzOutcome refused = FuzzHarness.Execute(typed, [1], scratch, TimeBound);
        Assert.False(refused.Accepted);
        Assert.Equal("bad", refused.Error);

        var allocates = throws with { Body = (_, _) => GC.KeepAlive(new byte[2 << 20]) };
        Assert.Contains("over the bound", Assert.Throws<FuzzContractException>(() => FuzzHarness.Execute(allocates, [1], scratch, TimeBound)).Message);
        // The bound grows with the input: 2 MiB is within 1 MiB + 1 KiB per byte for a 2,048-byte input.
        var perByte = allocates with { AllocationPerInputByte = 1024 };
        Assert.True(FuzzHarness.Execute(perByte, new byte[2048], scratch, TimeBound).Accepted);

        var slow = throws with { Body = (_, _) => Thread.Sleep(200) };
        Assert.Contains("took", Assert.Throws<FuzzContractException>(() => FuzzHarness.Execute(slow, [1], scratch, TimeSpan.FromMilliseconds(50))).Message);
    }
}
