import { createSmtpMailer } from '../../src/notifications/email/mailer';
import { createEmailSender } from '../../src/notifications/email/emailLane';
import { createTestContext, testConfig, type TestContext } from '../helpers/context';
import { makePledge, makeUser } from '../helpers/fixtures';
import { mailpitClient } from '../helpers/mailpit';
import { readTestEnvironment } from '../helpers/testEnv';
import { batchRunner, makeSettlementCampaign } from '../settlement/fixtures';

/**
 * The email a charge causes carries its receipt, through real SMTP (the run's Mailpit): the pledge_collected mail
 * names the receipt number, links its PDF on the API and attaches the PDF itself.
 */

const env = readTestEnvironment();
const mail = mailpitClient();
let ctx: TestContext;

beforeAll(() => {
  ctx = createTestContext(testConfig({ SMTP_URL: env.smtpUrl, PUBLIC_API_URL: 'http://api.example.test' }));
});
afterAll(() => ctx.close());

type Attachment = { FileName: string; ContentType: string; PartID: string };

it('a collected pledge’s email names the receipt, links its PDF and attaches it', async () => {
  const campaign = await makeSettlementCampaign(ctx.deps);
  const backer = await makeUser(ctx.deps, { name: 'Bo Backer' });
  const pledgeId = await makePledge(ctx.deps, campaign, { backerId: backer.id, amountCents: 4_200, tierId: campaign.tierId });
  await batchRunner(ctx.deps).run({ campaignId: campaign.id, action: 'collect', afterPledgeId: null, batchSize: 10 });
  const charge = await ctx.deps.db('seller_charges').where({ source_kind: 'pledge', source_id: pledgeId }).first();
  const invoice = await ctx.deps.db('invoices').where({ id: charge.invoice_id }).first();

  const mailer = createSmtpMailer(env.smtpUrl);
  try {
    expect(await createEmailSender(ctx.deps, mailer, { keyPrefix: `email:pledge_collected:${pledgeId}` }).round()).toBe(1);
  } finally {
    mailer.close();
  }
  const [summary] = await mail.to(backer.email);
  const message = (await mail.message(summary!.ID)) as Awaited<ReturnType<typeof mail.message>> & { Attachments: Attachment[] };
  expect(message.Subject).toMatch(/^Your pledge to .+ was charged$/);
  expect(message.Text).toContain(`Your receipt is ${invoice.number}: http://api.example.test/v1/invoices/${invoice.id}/pdf`);
  expect(message.Text).toContain(`Receipt: ${invoice.number}`);
  expect(message.Text).toContain('Charged: $42.00');
  // Essential mail: a charge is never opted out of.
  expect(message.Text).not.toContain('Unsubscribe');
  expect(message.Attachments.map((a) => [a.FileName, a.ContentType])).toEqual([[`invoice-${invoice.number}.pdf`, 'application/pdf']]);
  const pdf = await fetch(`${env.mailpitUrl}/api/v1/message/${summary!.ID}/part/${message.Attachments[0]!.PartID}`);
  expect(Buffer.from(await pdf.arrayBuffer()).subarray(0, 5).toString()).toBe('%PDF-');
});
