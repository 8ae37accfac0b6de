// The client layer: one ClientConfig, one openClient(), the store stacks below it.
export { openClient, processContext, defaultSessionLabel, type Client, type ClientRuntime } from './client.js';
export { validateConfig, saveConfig, loadConfig, type ClientConfig } from './config.js';
export { CLIENT_OPTIONS, SDK_ONLY, configFromSdkOptions, setOption, type ClientOption, type OptionDoor, type OptionKind } from './options.js';
export { openChunkStore, openRawVolumeObjects, openMirrorCopyStores, openBlockCache, cacheOptionsOf, type Log } from './storage.js';
export { checkObjectStore, checkVolumeStore } from './store-check.js';
export { checkMarker, checkFormatTarget, readMarker, writeMarker, deleteMarker, markerKey, MARKER_NAME, type StoreClaim } from './marker.js';
export { bindOrTakeOver, DeferredBinds, listeningFds, listenOn, listenerFor, parseAddress, Requests, UPGRADE_FROM_ENV, UPGRADES_ENV, upgradesSoFar } from './listen.js';
export { ClientProbe, type ProbeSnapshot, type ProbeStat } from './probe.js';
export { accessView, configToken } from './access.js';
