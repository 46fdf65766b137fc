namespace TokenFormer.Cli.Serve;

/// <summary>
/// An error answered as <c>{"error":{"message","type","param","code"}}</c> with HTTP status <see cref="Status"/>
/// (the OpenAI error shape).
/// </summary>
public sealed class ApiError(int status, string message, string type, string? param = null, string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    /// <summary>400 invalid_request_error about <paramref name="param"/>.</summary>
    public static ApiError Invalid(string message, string? param = null) => new(400, message, "invalid_request_error", param);
}
