using System.Globalization;

namespace TokenFormer.Model.Distributed;

/// <summary>
/// Whether an MPI launcher started this process, read from the variables launchers set: Open MPI's mpirun
/// (<c>OMPI_COMM_WORLD_SIZE</c>), PMIx (<c>PMIX_RANK</c>, e.g. <c>srun --mpi=pmix</c>), PMI-1/2 (<c>PMI_SIZE</c>, e.g.
/// <c>srun --mpi=pmi2</c> or MPICH's hydra) and a Slurm job step of several tasks (<c>SLURM_STEP_NUM_TASKS</c> with
/// <c>SLURM_PROCID</c>). Without one nothing is loaded and training runs in one process as before;
/// <c>TOKENFORMER_MPI=0</c> turns the detection off.
/// </summary>
public static class MpiLaunch
{
    /// <summary>Set to 0 to run in one process even under a launcher.</summary>
    public const string DisableVariable = "TOKENFORMER_MPI";

    /// <summary>The launcher's description (e.g. "mpirun (OMPI_COMM_WORLD_SIZE=2)"), or null when none started this process.</summary>
    public static string? DetectLauncher(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment(DisableVariable) == "0") return null;
        if (environment("OMPI_COMM_WORLD_SIZE") is string ompi) return $"mpirun (OMPI_COMM_WORLD_SIZE={ompi})";
        if (environment("PMIX_RANK") is string pmix) return $"a PMIx launcher (PMIX_RANK={pmix})";
        if (environment("PMI_SIZE") is string pmi) return $"a PMI launcher (PMI_SIZE={pmi})";
        if (environment("SLURM_STEP_NUM_TASKS") is string tasks && environment("SLURM_PROCID") != null
            && int.TryParse(tasks, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 1)
            return $"srun (SLURM_STEP_NUM_TASKS={tasks})";
        return null;
    }

    /// <summary>
    /// The communicator of this process: <see cref="SingleProcessCommunicator"/> when no launcher started it, else an
    /// initialised <see cref="MpiCommunicator"/>. Throws <see cref="MpiUnavailableException"/> (saying what to install)
    /// when a launcher started it but libmpi cannot be loaded.
    /// </summary>
    public static ICommunicator Connect()
    {
        string? launcher = DetectLauncher();
        if (launcher == null) return SingleProcessCommunicator.Instance;
        return new MpiCommunicator(MpiLibrary.Load(launcher));
    }
}
