namespace TokenFormer.Runtime.Generation;

/// <summary>Why a generated sequence ended (the OpenAI-style names the server also reports).</summary>
public static class FinishReasons
{
    /// <summary>A stop id or a stop string ended it.</summary>
    public const string Stop = "stop";
    /// <summary>It reached the most new tokens asked for.</summary>
    public const string Length = "length";
}
