// open(2) flags for the VFS and the doors; defined once, in the metadata layer that checks them on open.
export * from '../meta/open-flags.js';
