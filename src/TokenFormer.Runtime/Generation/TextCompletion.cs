namespace TokenFormer.Runtime.Generation;

/// <summary>
/// One prompt's result: the generated ids (a stop id that ended the sequence excluded), the text (cut before a stop
/// string), why it ended (<see cref="FinishReasons.Stop"/> or <see cref="FinishReasons.Length"/>) and the prompt's length in tokens.
/// </summary>
public sealed record TextCompletion(int[] Ids, string Text, string FinishReason, int PromptTokens);
