import type { Knex } from 'knex';

/**
 * Before connection-level failures stopped a push, a refused key, a host that did not
 * resolve, a TLS failure or answers that were not the system's marked every member sent
 * `failed` (permanent), and the next push held them back as "failed before and did not
 * change". Those failures were the connection's, not the members': they become `pending`,
 * so the next push sends them. Recognised by what push_errors kept of the last failure
 * (its kind `auth`) or by the message (the DNS and TLS codes, the format complaints).
 */
export const CONNECTION_LEVEL_MESSAGE =
  '(ENOTFOUND|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT|ERR_TLS_|ERR_SSL_|EPROTO|response is not an IKANOW envelope|response has no [A-Za-z]+Response|unexpected answer from|answered something that is not its JSON)';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `update push_state ps set status = 'pending'
     where ps.status = 'failed'
       and (ps.last_error ~ ?
            or exists (select 1 from push_errors e
                       where e.connection = ps.connection and e.member_id = ps.member_id and e.run_id = ps.run_id and e.kind = 'auth'))`,
    [CONNECTION_LEVEL_MESSAGE],
  );
}

export async function down(): Promise<void> {
  // nothing to undo: pending members are sent by the next push either way
}
