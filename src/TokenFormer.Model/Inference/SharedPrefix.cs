namespace TokenFormer.Model.Inference;

/// <summary>
/// Keys and values of positions [0, <see cref="Length"/>) of cache slot <see cref="From"/>, copied to slot
/// <see cref="To"/> inside an <see cref="IncrementalRunner.Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{SharedPrefix})"/>
/// call, layer by layer, right after that layer has written the call's own keys and values: rows of slot To in the
/// same call then attend to the prefix as if it had been run in their slot. This lets a context shared by several
/// continuations (the choices of a multiple-choice question) run once, in the same call as the continuations.
/// </summary>
public readonly record struct SharedPrefix(int From, int To, int Length);
