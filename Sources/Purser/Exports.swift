// A gateway imports `Purser` alone: the money, time and policy types its API speaks
// in come from the modules below it.
@_exported import PurserCore
@_exported import PurserPolicy
