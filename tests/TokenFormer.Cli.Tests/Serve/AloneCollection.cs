namespace TokenFormer.Cli.Tests.Serve;

/// <summary>Test classes that measure the whole process (memory, threads): xunit runs them alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AloneCollection
{
    public const string Name = "alone: measures the whole process";
}
