using System.Diagnostics;

namespace TokenFormer.Fuzz;

/// <summary>
/// One fuzz target: a harness that feeds an arbitrary byte string to one input format's reader the way the product
/// does, the exception types that count as that format's own typed error, and the bounds every input must keep
/// (docs/reliability.md, Fuzzing).
/// </summary>
/// <param name="Name">The name given to <c>tools/fuzz/run</c> and the corpus folder under <c>tools/fuzz/corpus</c>.</param>
/// <param name="Reads">What the harness reads, for the docs and messages.</param>
/// <param name="TypedErrors">The exception types an input may end in; any other exception is a crash.</param>
/// <param name="AllocationBase">Managed bytes any single input may allocate on the harness thread, plus ...</param>
/// <param name="AllocationPerInputByte">... this many per input byte (<see cref="AllocationBound"/>).</param>
/// <param name="Body">The harness: reads <c>input</c> with the product's reader; a scratch folder is given for formats read from files.</param>
/// <param name="Allowance">Further bytes an input may allocate for what it legitimately declares (an image's pixels,
/// which the reader caps), or null.</param>
/// <param name="AllowanceText">What <paramref name="Allowance"/> is, for the docs and messages.</param>
public sealed record FuzzTarget(
    string Name,
    string Reads,
    Type[] TypedErrors,
    long AllocationBase,
    long AllocationPerInputByte,
    Action<byte[], string> Body,
    Func<byte[], long>? Allowance = null,
    string? AllowanceText = null)
{
    /// <summary>The most managed bytes the harness thread may allocate for <paramref name="input"/>.</summary>
    public long AllocationBound(byte[] input) => AllocationBase + AllocationPerInputByte * input.Length + (Allowance?.Invoke(input) ?? 0);

    /// <summary>The bound in words.</summary>
    public string BoundText => $"{AllocationBase >> 20} MiB + {AllocationPerInputByte} B per input byte" + (AllowanceText is null ? "" : " + " + AllowanceText);

    /// <summary>True when <paramref name="e"/> is one of <see cref="TypedErrors"/>.</summary>
    public bool IsTyped(Exception e) => TypedErrors.Any(t => t.IsInstanceOfType(e));
}

/// <summary>How one input ended: read successfully, or refused with the format's typed error.</summary>
/// <param name="Accepted">True when the reader accepted the input.</param>
/// <param name="Error">The typed error's message when refused.</param>
/// <param name="AllocatedBytes">Managed bytes the harness thread allocated for it.</param>
/// <param name="Elapsed">Wall time it took.</param>
public sealed record FuzzOutcome(bool Accepted, string? Error, long AllocatedBytes, TimeSpan Elapsed);

/// <summary>
/// An input broke a target's contract: an exception other than the typed ones, an allocation over the bound or a run
/// over the time bound. Thrown out of <see cref="FuzzHarness.Execute"/> so that afl-fuzz records a crash.
/// </summary>
public sealed class FuzzContractException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Runs one input through a target and checks the contract.</summary>
public static class FuzzHarness
{
    /// <summary>
    /// Runs <paramref name="input"/> through <paramref name="target"/> in <paramref name="scratch"/> (a folder the
    /// caller owns; the harness leaves it empty). Returns the outcome when the input was accepted or gave a typed error
    /// within the bounds; throws <see cref="FuzzContractException"/> otherwise.
    /// </summary>
    public static FuzzOutcome Execute(FuzzTarget target, byte[] input, string scratch, TimeSpan timeBound)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        string? error = null;
        Exception? untyped = null;
        try
        {
            target.Body(input, scratch);
        }
        catch (Exception e) when (target.IsTyped(e))
        {
            error = e.Message;
        }
        catch (Exception e)
        {
            untyped = e;
        }
        clock.Stop();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        if (untyped != null)
            throw new FuzzContractException(
                $"{target.Name}: {untyped.GetType().FullName} is not one of the typed errors ({string.Join(", ", target.TypedErrors.Select(t => t.Name))}): {untyped.Message}",
                untyped);
        long bound = target.AllocationBound(input);
        if (allocated > bound)
            throw new FuzzContractException(
                $"{target.Name}: a {input.Length}-byte input allocated {allocated:N0} managed bytes, over the bound of {bound:N0} ({target.BoundText})");
        if (clock.Elapsed > timeBound)
            throw new FuzzContractException(
                $"{target.Name}: a {input.Length}-byte input took {clock.Elapsed.TotalMilliseconds:F0} ms, over the bound of {timeBound.TotalMilliseconds:F0} ms");
        return new FuzzOutcome(error == null, error, allocated, clock.Elapsed);
    }
}
